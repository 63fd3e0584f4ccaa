import { describe, expect, it } from 'vitest';
import { isOpen, mayActNow, nextOpen, planSlots } from '../server/channels/pace.ts';
import { nextInterval } from '../server/channels/poll.ts';

const HOUR = 3_600_000;
const at = (iso: string) => new Date(iso);
const allDay = { hours: { min: 0, max: 0 }, timezone: 'UTC' };

describe('the hours window', () => {
  it('is open all day when min == max, within [min, max) otherwise, and across midnight when min > max', () => {
    expect(isOpen(at('2026-11-24T03:00:00Z'), allDay)).toBe(true);
    const office = { hours: { min: 9, max: 18 }, timezone: 'UTC' };
    expect(isOpen(at('2026-11-24T08:59:59Z'), office)).toBe(false);
    expect(isOpen(at('2026-11-24T09:00:00Z'), office)).toBe(true);
    expect(isOpen(at('2026-11-24T17:59:59Z'), office)).toBe(true);
    expect(isOpen(at('2026-11-24T18:00:00Z'), office)).toBe(false);
    const night = { hours: { min: 22, max: 6 }, timezone: 'UTC' };
    expect(isOpen(at('2026-11-24T23:30:00Z'), night)).toBe(true);
    expect(isOpen(at('2026-11-24T05:59:00Z'), night)).toBe(true);
    expect(isOpen(at('2026-11-24T12:00:00Z'), night)).toBe(false);
    expect(isOpen(at('2026-11-24T12:00:00Z'), { hours: { min: 0, max: 24 }, timezone: 'UTC' })).toBe(true);
  });

  it('opens at the window’s first hour in the account’s time zone', () => {
    const moscow = { hours: { min: 9, max: 18 }, timezone: 'Europe/Moscow' };
    // 20:00 in Moscow (UTC+3): the next opening is 09:00 there, 06:00 UTC the next day.
    expect(nextOpen(at('2026-11-24T17:00:00Z'), moscow)).toEqual(at('2026-11-25T06:00:00Z'));
    const kolkata = { hours: { min: 9, max: 10 }, timezone: 'Asia/Kolkata' };
    expect(nextOpen(at('2026-11-24T00:00:00Z'), kolkata)).toEqual(at('2026-11-24T03:30:00Z'));
    // Already open: unchanged, to the millisecond.
    expect(nextOpen(at('2026-11-24T07:12:13.456Z'), moscow)).toEqual(at('2026-11-24T07:12:13.456Z'));
  });

  it('follows daylight saving time changes', () => {
    const ny = { hours: { min: 9, max: 17 }, timezone: 'America/New_York' };
    // 2026-03-08: clocks go from EST (UTC−5) to EDT (UTC−4) at 2:00.
    expect(nextOpen(at('2026-03-07T23:00:00Z'), ny)).toEqual(at('2026-03-08T13:00:00Z'));
    expect(nextOpen(at('2026-03-07T03:00:00Z'), ny)).toEqual(at('2026-03-07T14:00:00Z'));
    // A window starting at 2:00 on the day 2:00 does not exist opens at 3:00 local.
    const early = { hours: { min: 2, max: 4 }, timezone: 'America/New_York' };
    expect(nextOpen(at('2026-03-08T05:00:00Z'), early)).toEqual(at('2026-03-08T07:00:00Z'));
  });
});

describe('planning slots', () => {
  const now = at('2026-11-24T10:00:00Z');

  it('lets `speed` actions go at once and spaces the rest an hour (and a margin) later', () => {
    const slots = planSlots({ now, speed: 3, window: allDay, taken: [] }, 7).map(
      (d) => d.getTime() - now.getTime(),
    );
    expect(slots.slice(0, 3)).toEqual([0, 0, 0]);
    expect(slots.slice(3, 6).every((ms) => ms >= HOUR && ms < HOUR + 60_000)).toBe(true);
    expect(slots[6]).toBeGreaterThanOrEqual(2 * HOUR);
  });

  it('never puts more than `speed` in any rolling hour, counting what was done before', () => {
    const taken = [at('2026-11-24T09:30:00Z'), at('2026-11-24T09:50:00Z')];
    const slots = planSlots({ now, speed: 2, window: allDay, taken }, 5);
    const all = [...taken, ...slots].map((d) => d.getTime());
    for (const t of all) expect(all.filter((o) => o > t - HOUR && o <= t).length).toBeLessThanOrEqual(2);
    expect(slots[0]!.getTime()).toBeGreaterThanOrEqual(at('2026-11-24T10:30:00Z').getTime());
  });

  it('puts slots inside the window, and plans nothing at speed 0', () => {
    const window = { hours: { min: 22, max: 23 }, timezone: 'UTC' };
    const slots = planSlots({ now, speed: 1, window, taken: [] }, 3);
    expect(slots.map((d) => d.toISOString())).toEqual([
      '2026-11-24T22:00:00.000Z',
      '2026-11-25T22:00:00.000Z',
      '2026-11-26T22:00:00.000Z',
    ]);
    expect(planSlots({ now, speed: 0, window: allDay, taken: [] }, 3)).toEqual([]);
  });

  it('checks the budget again right before acting, with the clock moved', () => {
    const asked = Array.from({ length: 10 }, (_, i) => new Date(now.getTime() + i * 1000));
    expect(mayActNow({ now: new Date(now.getTime() + 20_000), speed: 10, window: allDay, asked })).toBe(
      false,
    );
    // The first leaves the rolling hour exactly an hour after it was asked.
    expect(mayActNow({ now: new Date(now.getTime() + HOUR - 1), speed: 10, window: allDay, asked })).toBe(
      false,
    );
    expect(mayActNow({ now: new Date(now.getTime() + HOUR), speed: 10, window: allDay, asked })).toBe(true);
    const closed = { hours: { min: 1, max: 2 }, timezone: 'UTC' };
    expect(mayActNow({ now, speed: 10, window: closed, asked: [] })).toBe(false);
  });
});

describe('polling’s pace', () => {
  it('slows down past 75 % of Meta’s allowance and stops for a while past 90 % or when told to wait', () => {
    expect(nextInterval(60, { percent: 40, regainMinutes: 0 })).toBe(60);
    expect(nextInterval(60, { percent: 80, regainMinutes: 0 })).toBe(120);
    expect(nextInterval(60, { percent: 95, regainMinutes: 0 })).toBe(240);
    expect(nextInterval(60, { percent: 100, regainMinutes: 30 })).toBe(1800);
  });
});

/**
 * When a channel action may run: the account's `speed` (most actions of a
 * kind per rolling hour) and its `hours` window in its `timezone`. Pure
 * functions of the clock, so tests move the clock instead of waiting.
 */

const HOUR_MS = 3_600_000;
/**
 * A job starts a little after its slot, and an action counts from when Meta
 * was asked: slots an hour apart get this much more, so the plan holds; the
 * check before each action (mayActNow) is what guarantees the budget.
 */
const MARGIN_MS = 30_000;
/** Every time zone's offset is a multiple of 15 minutes, so local hours begin on UTC quarter hours. */
const QUARTER_MS = 15 * 60_000;

/** Meta's own hourly limits per account, below any speed set higher (docs/graph-api.md: 750 private replies). */
export const META_HOURLY_CAP: Record<'comment' | 'dm' | 'hide', number> = {
  comment: Infinity,
  dm: 750,
  hide: Infinity,
};

/** The account's `speed` for a kind of action, within Meta's own limit. */
export function hourlyBudget(speed: Record<string, number>, kind: 'comment' | 'dm' | 'hide'): number {
  return Math.min(speed[kind] ?? 0, META_HOURLY_CAP[kind]);
}

export interface Window {
  /** Hours of the day, 0–24; min == max: all day; min > max: across midnight (22 → 6). */
  hours: { min: number; max: number };
  timezone: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The hour of the day (0–23) at `at` in `timezone`. */
export function localHour(at: Date, timezone: string): number {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hour: 'numeric', hourCycle: 'h23' });
    formatters.set(timezone, f);
  }
  return Number(f.format(at)) % 24;
}

export function isOpen(at: Date, window: Window): boolean {
  const { min, max } = window.hours;
  if (min % 24 === max % 24) return true;
  const h = localHour(at, window.timezone);
  return min < max ? h >= min && h < max : h >= min || h < max;
}

/** `at` if the window is open then, else the moment it next opens (DST days included). */
export function nextOpen(at: Date, window: Window): Date {
  if (isOpen(at, window)) return at;
  let t = Math.ceil(at.getTime() / QUARTER_MS) * QUARTER_MS;
  // A window opens at least once a day; two days covers a DST change.
  for (let i = 0; i < 2 * 24 * 4; i++, t += QUARTER_MS) if (isOpen(new Date(t), window)) return new Date(t);
  return at;
}

/**
 * The next `count` slots after the ones already taken, in order: each is as
 * early as possible such that no rolling hour holds more than `speed` slots,
 * never before a slot already taken (first come, first served), and inside
 * the window. `taken` are the account's slots of this kind from an hour ago
 * on. A speed of 0 plans nothing (the actions wait until it is raised).
 */
export function planSlots(
  opts: { now: Date; speed: number; window: Window; taken: Date[] },
  count: number,
): Date[] {
  if (opts.speed <= 0) return [];
  const slots = opts.taken.map((d) => d.getTime()).sort((a, b) => a - b);
  const planned: Date[] = [];
  for (let i = 0; i < count; i++) {
    let t = opts.now.getTime();
    const k = slots.length;
    if (k > 0) t = Math.max(t, slots[k - 1]!);
    if (k >= opts.speed) t = Math.max(t, slots[k - opts.speed]! + HOUR_MS + MARGIN_MS);
    const at = nextOpen(new Date(t), opts.window);
    slots.push(at.getTime());
    planned.push(at);
  }
  return planned;
}

/** Whether one more action may run at `now`, given when Meta was asked for the others of the last hour. */
export function mayActNow(opts: { now: Date; speed: number; window: Window; asked: Date[] }): boolean {
  if (opts.speed <= 0 || !isOpen(opts.now, opts.window)) return false;
  const since = opts.now.getTime() - HOUR_MS;
  return opts.asked.filter((d) => d.getTime() > since).length < opts.speed;
}

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';

const out = mkdtempSync(path.join(os.tmpdir(), 'autopost-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench -- --quick', () => {
  it('runs every suite at a tiny size and writes the report', async () => {
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], {
        env: { ...process.env, DATABASE_URL: inject('adminUrl') },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      child.on('exit', resolve);
    });
    expect(code).toBe(0);
    const results = JSON.parse(readFileSync(path.join(out, 'results', 'latest.json'), 'utf8'));
    expect(results.settings.quick).toBe(true);
    expect(results.api.rows).toHaveLength(6);
    for (const row of results.api.rows) {
      for (const side of ['rest', 'trpc', 'baseline']) {
        expect(row[side].rps, `${row.op} ${side}`).toBeGreaterThan(0);
        expect(row[side].errors, `${row.op} ${side} errors`).toBe(0);
      }
    }
    expect(results.precision.p99).toBeGreaterThanOrEqual(0);
    for (const burst of [...results.burst.rows, results.scaleOut.one, results.scaleOut.two]) {
      expect(burst.duplicates).toBe(0);
      expect(burst.lost).toBe(0);
      expect(burst.postsPerSecond).toBeGreaterThan(0);
    }
    expect(results.memory.idleRssMb).toBeGreaterThan(0);
    expect(results.memory.peakRssMb).toBeGreaterThanOrEqual(results.memory.idleRssMb);
    expect(results.channels.intake.changesPerSecond).toBeGreaterThan(0);
    expect(results.channels.intake.answerMs.max).toBeLessThan(1000);
    expect(results.channels.replyLag.p99).toBeGreaterThanOrEqual(results.channels.replyLag.p50);
    expect(results.lanes.tarpitRequestsHeld).toBeGreaterThan(0);
    expect(results.lanes.p99).toBeGreaterThanOrEqual(results.lanes.p50);
    expect(results.media.slowReaders.userMs.requests).toBeGreaterThan(0);
    const report = readFileSync(path.join(out, 'REPORT.md'), 'utf8');
    for (const heading of [
      'API overhead',
      'Publish-time precision',
      'Burst drain',
      'Scale-out',
      'Memory',
      'Channels',
      'Lanes: a webhook receiver that never answers',
    ])
      expect(report).toContain(`## ${heading}`);
  }, 300_000);
});

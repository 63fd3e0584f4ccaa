/**
 * What every graphile-worker job declares, in its own file under jobs/:
 * its task name, its payload's schema, how many tries graphile-worker gives
 * it, its crontab schedule if it has one, and the functions that add it in
 * the caller's transaction. The handler is the domain function the job runs,
 * bound to it with `handle()` beside that function; server/worker/tasks.ts
 * lists the handlers. Domains import these declarations to add jobs, so this
 * folder imports no domain (docs/architecture.md, "Add a job").
 */
import type { JobHelpers } from 'graphile-worker';
import type { z } from 'zod';

export interface Job<P> {
  /** graphile-worker's task identifier; stored in every job row, never renamed. */
  task: string;
  /** The payload, checked before the handler runs. */
  payload: z.ZodType<P>;
  /** graphile-worker's `max_attempts` for the job's rows: how often a thrown error is retried. */
  maxAttempts: number;
  /**
   * Cron schedule (UTC, graphile-worker's crontab syntax) for jobs that run on their own: one waiting
   * run at a time (`jobKey`); such jobs take `maxAttempts: 1`, so a slow or failed run is never
   * retried on top of the next scheduled one.
   */
  schedule?: string;
}

export function defineJob<P>(job: Job<P>): Job<P> {
  return job;
}

/** The job's crontab line, or nothing when it is only ever added by a transaction. */
export function crontabLine(job: Job<unknown>): string | null {
  return job.schedule ? `${job.schedule} ${job.task} ?max=${job.maxAttempts}&jobKey=${job.task}` : null;
}

/** A job bound to the domain function it runs; `D` is the part of the worker's dependencies it uses. */
export interface JobHandler<D> {
  job: Job<unknown>;
  // A property, not a method: the worker's list then checks that its dependencies cover `D`.
  run: (deps: D, payload: unknown, helpers: JobHelpers) => Promise<void>;
}

export function handle<D, P>(
  job: Job<P>,
  run: (deps: D, payload: P, helpers: JobHelpers) => Promise<void>,
): JobHandler<D> {
  return { job, run: (deps, payload, helpers) => run(deps, job.payload.parse(payload), helpers) };
}

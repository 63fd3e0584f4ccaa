import { Logger as WorkerLogger } from 'graphile-worker';
import { describeError, scrubSecrets, type Logger } from '../logger.ts';

/**
 * graphile-worker's log lines carry whole error objects and job rows, and
 * drizzle's error messages carry query parameters: only a safe summary of
 * each reaches our log (describeError), and `params:` lines are cut from the
 * message text.
 */
export function workerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger(() => (level, message, meta) => {
    const raw = (meta ?? {}) as Record<string, unknown>;
    const fields: Record<string, unknown> = { component: 'graphile-worker' };
    const job = raw.job as { id?: unknown; task_identifier?: unknown; attempts?: unknown } | undefined;
    if (job) fields.job = { id: job.id, task: job.task_identifier, attempts: job.attempts };
    const error = raw.error ?? raw.fatalError;
    if (error !== undefined) Object.assign(fields, describeError(error));
    const text = scrubSecrets(message.replace(/^\s*params: .*$/gm, '').replace(/\n\s*\n/g, '\n')).slice(
      0,
      2000,
    );
    // LogLevel is a const enum of these strings, which verbatimModuleSyntax cannot import.
    const name: string = level;
    if (name === 'error') logger.error(fields, text);
    else if (name === 'warning') logger.warn(fields, text);
    else logger.debug(fields, text);
  });
}

import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx } from '../db/client.ts';

/** Looks at newly stored comments and queues what channels do about them (server/channels/process.ts). */
export const PROCESS_COMMENTS_TASK = 'process_comments';
export const ZProcessCommentsPayload = z.object({}).passthrough();

/** One reply, private reply or hide (server/channels/act.ts), keyed `channel_action:<id>`. */
export const CHANNEL_ACTION_TASK = 'channel_action';
export const ZChannelActionPayload = z.object({ actionId: z.number().int().positive() });
export const channelActionJobKey = (id: number | string) => `channel_action:${id}`;

/** The action's job at `runAt`, replacing the one it had (server/channels/queue.ts plans many at once). */
export async function scheduleChannelAction(db: DbOrTx, actionId: number, runAt: Date): Promise<void> {
  await db.execute(sql`select graphile_worker.add_job(${CHANNEL_ACTION_TASK},
    json_build_object('actionId', ${actionId}::bigint), run_at := ${runAt.toISOString()}::timestamptz,
    job_key := ${channelActionJobKey(actionId)}, job_key_mode := 'replace', max_attempts := 10)`);
}

/** Reads an account's recent comments when Meta's webhooks do not bring them (server/channels/poll.ts). */
export const POLL_COMMENTS_TASK = 'poll_comments';
export const ZPollCommentsPayload = z.object({ instagramId: z.number().int().positive() });

/**
 * SQL that adds the processing job: one job for all stored comments, so
 * many deliveries at once add one (a job already waiting keeps its run_at;
 * one already running gets a successor, which graphile-worker creates when
 * the keyed job is locked).
 */
export const addProcessCommentsJob = sql`graphile_worker.add_job(${PROCESS_COMMENTS_TASK}, '{}'::json,
  job_key := ${PROCESS_COMMENTS_TASK}, job_key_mode := 'preserve_run_at', max_attempts := 25)`;

/** Polls the account at `runAt`; an earlier poll already waiting is kept (`preserve_run_at`) unless `replace`. */
export async function schedulePoll(
  db: DbOrTx,
  instagramId: number,
  runAt: Date,
  mode: 'preserve_run_at' | 'replace' = 'preserve_run_at',
): Promise<void> {
  await db.execute(sql`select graphile_worker.add_job(${POLL_COMMENTS_TASK},
    json_build_object('instagramId', ${instagramId}::bigint), run_at := ${runAt.toISOString()}::timestamptz,
    job_key := ${`poll_comments:${instagramId}`}, job_key_mode := ${mode}, max_attempts := 25)`);
}

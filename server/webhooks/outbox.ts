/**
 * The outbox: an event's deliveries, one per subscribed endpoint, and their
 * jobs, written in the caller's transaction. A change that rolls back sends
 * nothing; one that commits is sent even if the process dies right after
 * (the job is in the database). (endpoint_id, event_id) is unique, so an
 * event reported twice (a retried transaction, a daily job run again) is
 * delivered once.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.ts';
import type { WebhookEventType } from '../db/schema.ts';
import { addDeliveryJobs } from '../jobs/deliver-webhook.ts';
import { formatInstant } from '../lib/time.ts';

/** `msg_` and 26 base32 characters, as Standard Webhooks' examples use. */
export function newEventId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return `msg_${[...randomBytes(26)].map((b) => alphabet[b & 31]).join('')}`;
}

export interface WebhookEvent {
  ownerId: number;
  type: WebhookEventType;
  /**
   * The post, account or channel action exactly as the API shows it (never a
   * token); a function is called only when some endpoint wants the event.
   */
  data: unknown;
  /** A fixed id makes the event at most once per endpoint (e.g. one "token expiring" per token). */
  eventId?: string;
  /** Only this endpoint (the `test` route's ping); otherwise every enabled endpoint subscribed to the type. */
  endpointId?: number;
}

/** Adds the event's deliveries and their jobs; returns the delivery ids. */
export async function emitWebhookEvent(db: DbOrTx, event: WebhookEvent, now = new Date()): Promise<number[]> {
  const eventId = event.eventId ?? newEventId();
  const target = event.endpointId
    ? sql`e.id = ${event.endpointId} and e.owner_id = ${event.ownerId}`
    : sql`e.owner_id = ${event.ownerId} and e.enabled and ${event.type} = any(e.events)`;
  let data = event.data;
  if (typeof data === 'function') {
    // Most users have no endpoint: one indexed look instead of building the post for nobody.
    const wanted = await db.execute(sql`select 1 from webhook_endpoints e where ${target} limit 1`);
    if (wanted.length === 0) return [];
    data = await (data as () => Promise<unknown>)();
  }
  const body = { id: eventId, type: event.type, timestamp: formatInstant(now), data };
  const rows = await db.execute<{ id: string }>(sql`
    with added as (
      insert into webhook_deliveries (endpoint_id, event_id, type, payload, next_attempt_at, created_at)
      select e.id, ${eventId}, ${event.type}, ${JSON.stringify(body)}::jsonb, ${now.toISOString()}::timestamptz,
             ${now.toISOString()}::timestamptz
      from webhook_endpoints e where ${target}
      on conflict (endpoint_id, event_id) do nothing
      returning id
    )
    select added.id::text as id, ${addDeliveryJobs(sql`added.id`, event.ownerId)} is not null as queued
    from added`);
  return rows.map((r) => Number(r.id));
}

/**
 * Webhook endpoints and their delivery log. The URL is checked (and its host
 * resolved) before the transaction; secrets are sealed like Graph tokens and
 * shown once. Sending is deliver.ts's job.
 */
import { randomBytes } from 'node:crypto';
import { and, desc, eq, lt } from 'drizzle-orm';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { DbOrTx, Tx } from '../db/client.ts';
import {
  webhookDeliveries,
  webhookEndpoints,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { decodeIdCursor, encodeIdCursor } from '../lib/cursor.ts';
import { formatInstant, formatInstantOrNull } from '../lib/time.ts';
import { NonPublicAddress, publicUrlProblem, resolvePublic, type Resolver } from '../net/public-address.ts';
import { emitWebhookEvent } from './outbox.ts';
import type { CreateWebhookInput, DeliveryOutput, UpdateWebhookInput, WebhookOutput } from './schemas.ts';

/** How long the old secret keeps signing after a rotation. */
const ROTATION_OVERLAP_MS = 24 * 3_600_000;

export interface UrlCheck {
  allowPrivate: boolean;
  resolver?: Resolver | undefined;
}

const urlIssue = (message: string) =>
  new AppError('VALIDATION_FAILED', undefined, { issues: [{ path: 'url', message }] });

/** https, a public host, and a name that resolves to public addresses only (checked again at every send). */
export async function checkWebhookUrl(value: string, check: UrlCheck): Promise<string> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw urlIssue('url must be an absolute URL');
  }
  if (!check.allowPrivate) {
    const problem = publicUrlProblem(value, 'url');
    if (problem) throw urlIssue(problem);
  } else if (url.protocol !== 'https:' && url.protocol !== 'http:') throw urlIssue('url must use https');
  try {
    await resolvePublic(url.hostname, check);
  } catch (error) {
    if (error instanceof NonPublicAddress) throw urlIssue(`url: ${error.message}`);
    throw urlIssue(`url: ${url.hostname} could not be resolved`);
  }
  return url.href;
}

/** Standard Webhooks' format: `whsec_` and the base64 of the key (24 random bytes). */
function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export function toWebhookOutput(row: WebhookEndpointRow): WebhookOutput {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    description: row.description,
    enabled: row.enabled,
    created_at: formatInstant(row.createdAt),
    updated_at: formatInstant(row.updatedAt),
  };
}

function toDeliveryOutput(row: WebhookDeliveryRow): DeliveryOutput {
  return {
    id: row.id,
    event_id: row.eventId,
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    last_status_code: row.lastStatusCode,
    last_error: row.lastError,
    last_response: row.lastResponse,
    next_attempt_at: formatInstantOrNull(row.nextAttemptAt),
    delivered_at: formatInstantOrNull(row.deliveredAt),
    created_at: formatInstant(row.createdAt),
  };
}

export async function getWebhookRow(db: DbOrTx, ownerId: number, id: number): Promise<WebhookEndpointRow> {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.ownerId, ownerId)));
  if (!row) throw new AppError('WEBHOOK_NOT_FOUND');
  return row;
}

export async function createWebhook(
  tx: Tx,
  ownerId: number,
  input: CreateWebhookInput & { url: string },
  cipher: TokenCipher,
): Promise<WebhookOutput & { secret: string }> {
  const secret = newSecret();
  const sealed = cipher.seal(secret);
  const [row] = await tx
    .insert(webhookEndpoints)
    .values({
      ownerId,
      url: input.url,
      events: input.events,
      description: input.description ?? null,
      enabled: input.enabled ?? true,
      secretKeyId: sealed.keyId,
      secretCiphertext: sealed.ciphertext,
    })
    .returning();
  return { ...toWebhookOutput(row!), secret };
}

export async function listWebhooks(db: DbOrTx, ownerId: number): Promise<{ items: WebhookOutput[] }> {
  const rows = await db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.ownerId, ownerId))
    .orderBy(webhookEndpoints.id);
  return { items: rows.map(toWebhookOutput) };
}

export async function updateWebhook(
  tx: Tx,
  ownerId: number,
  input: UpdateWebhookInput,
): Promise<WebhookOutput> {
  await getWebhookRow(tx, ownerId, input.id);
  const [row] = await tx
    .update(webhookEndpoints)
    .set({
      ...(input.url !== undefined ? { url: input.url } : {}),
      ...(input.events !== undefined ? { events: input.events } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
      updatedAt: new Date(),
    })
    .where(eq(webhookEndpoints.id, input.id))
    .returning();
  return toWebhookOutput(row!);
}

/** A new secret, shown once; the old one keeps signing beside it for 24 hours. */
export async function rotateWebhookSecret(
  tx: Tx,
  ownerId: number,
  id: number,
  cipher: TokenCipher,
  now = new Date(),
): Promise<WebhookOutput & { secret: string }> {
  const current = await getWebhookRow(tx, ownerId, id);
  const secret = newSecret();
  const sealed = cipher.seal(secret);
  const [row] = await tx
    .update(webhookEndpoints)
    .set({
      secretKeyId: sealed.keyId,
      secretCiphertext: sealed.ciphertext,
      previousSecretKeyId: current.secretKeyId,
      previousSecretCiphertext: current.secretCiphertext,
      previousSecretExpiresAt: new Date(now.getTime() + ROTATION_OVERLAP_MS),
      updatedAt: now,
    })
    .where(eq(webhookEndpoints.id, id))
    .returning();
  return { ...toWebhookOutput(row!), secret };
}

/** A `ping` to this endpoint now (its job runs at once); → the delivery. */
export async function testWebhook(tx: Tx, ownerId: number, id: number): Promise<DeliveryOutput> {
  const endpoint = await getWebhookRow(tx, ownerId, id);
  const [deliveryId] = await emitWebhookEvent(tx, {
    ownerId,
    type: 'ping',
    endpointId: id,
    data: { webhook: toWebhookOutput(endpoint), message: 'A test from the Instagram autopost server.' },
  });
  const [row] = await tx.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, deliveryId!));
  return toDeliveryOutput(row!);
}

/** Newest first, by id. */
export async function listDeliveries(
  db: DbOrTx,
  ownerId: number,
  input: { id: number; limit: number; cursor?: string | undefined },
): Promise<{ items: DeliveryOutput[]; next_cursor: string | null }> {
  await getWebhookRow(db, ownerId, input.id);
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.endpointId, input.id),
        input.cursor ? lt(webhookDeliveries.id, decodeIdCursor('d', input.cursor)) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(input.limit + 1);
  const page = rows.slice(0, input.limit);
  return {
    items: page.map(toDeliveryOutput),
    next_cursor: rows.length > input.limit ? encodeIdCursor('d', page.at(-1)!.id) : null,
  };
}

/** Deletes the endpoint and its log; pending deliveries' jobs then find nothing to send. */
export async function deleteWebhook(
  tx: Tx,
  ownerId: number,
  id: number,
): Promise<{ id: number; deleted: true }> {
  await getWebhookRow(tx, ownerId, id);
  await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return { id, deleted: true };
}

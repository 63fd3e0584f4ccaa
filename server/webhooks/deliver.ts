/**
 * Runs one `deliver_webhook` job: signs the stored body the Standard
 * Webhooks way (with the old secret too for 24 hours after a rotation),
 * sends it (send.ts), and records the outcome; a failure is tried again on
 * the contract's schedule by re-adding the job, then the delivery is
 * `failed`. The same `webhook-id` on every attempt lets receivers
 * deduplicate.
 */
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db } from '../db/client.ts';
import { webhookDeliveries, webhookEndpoints } from '../db/schema.ts';
import { scheduleDelivery } from '../jobs/deliver-webhook.ts';
import type { Logger } from '../logger.ts';
import { sendWebhook, type SendOptions, type SendResult } from './send.ts';
import { handle } from '../jobs/job.ts';
import { deliverWebhookJob } from '../jobs/deliver-webhook.ts';

/** After each failed attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then `failed` (8 attempts, ~28 h). */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];

export interface DeliverDeps {
  db: Db;
  cipher: TokenCipher;
  logger: Logger;
  send: SendOptions;
  /** RETRY_DELAYS_MS; tests shorten it. */
  retryDelaysMs?: number[];
}

/** The `webhook-signature` header: one `v1,<base64>` per secret in force, space-separated. */
export function signatureHeader(secrets: string[], eventId: string, at: Date, body: string): string {
  return secrets.map((secret) => new Webhook(secret).sign(eventId, at, body)).join(' ');
}

export async function deliverWebhook(deps: DeliverDeps, deliveryId: number, now = new Date()): Promise<void> {
  const [row] = await deps.db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, deliveryId));
  // Deleted with its endpoint, or already settled by an earlier run of this job.
  if (!row || row.delivery.status !== 'pending') return;
  const { delivery, endpoint } = row;

  let result: SendResult;
  if (!endpoint.enabled) {
    result = { status: null, error: 'Not sent: the endpoint is disabled.', response: null };
  } else {
    const secrets = [
      deps.cipher.open({ keyId: endpoint.secretKeyId, ciphertext: endpoint.secretCiphertext }),
    ];
    if (
      endpoint.previousSecretKeyId &&
      endpoint.previousSecretCiphertext &&
      endpoint.previousSecretExpiresAt &&
      endpoint.previousSecretExpiresAt.getTime() > now.getTime()
    )
      secrets.push(
        deps.cipher.open({
          keyId: endpoint.previousSecretKeyId,
          ciphertext: endpoint.previousSecretCiphertext,
        }),
      );
    const body = JSON.stringify(delivery.payload);
    result = await sendWebhook(
      endpoint.url,
      body,
      {
        'webhook-id': delivery.eventId,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signatureHeader(secrets, delivery.eventId, now, body),
      },
      deps.send,
    );
  }

  const attempts = delivery.attempts + 1;
  const delays = deps.retryDelaysMs ?? RETRY_DELAYS_MS;
  const giveUp = result.error !== null && (attempts > delays.length || !endpoint.enabled);
  const next = result.error !== null && !giveUp ? new Date(Date.now() + delays[attempts - 1]!) : null;
  await deps.db.transaction(async (tx) => {
    await tx
      .update(webhookDeliveries)
      .set({
        attempts,
        status: result.error === null ? 'delivered' : giveUp ? 'failed' : 'pending',
        lastStatusCode: result.status,
        lastError: result.error,
        lastResponse: result.response,
        nextAttemptAt: next,
        ...(result.error === null ? { deliveredAt: new Date() } : {}),
      })
      .where(eq(webhookDeliveries.id, deliveryId));
    if (next) await scheduleDelivery(tx, deliveryId, next);
  });
  deps.logger.info(
    {
      deliveryId,
      endpointId: endpoint.id,
      type: delivery.type,
      attempts,
      status: result.status,
      delivered: !result.error,
    },
    result.error ? 'webhook not delivered' : 'webhook delivered',
  );
}

/** The `deliver_webhook` job; WEBHOOK_ALLOW_PRIVATE_HOSTS and the test schedule come in `webhooks`. */
export const deliverWebhookHandler = handle(
  deliverWebhookJob,
  (
    deps: Pick<DeliverDeps, 'db' | 'cipher' | 'logger'> & {
      webhooks: Pick<DeliverDeps, 'send' | 'retryDelaysMs'>;
    },
    { deliveryId },
  ) => deliverWebhook({ ...deps, ...deps.webhooks }, deliveryId),
);

import { z } from 'zod';

/** Sends one webhook delivery (server/webhooks/deliver.ts); its row is the truth, the payload names it. */
export const DELIVER_WEBHOOK_TASK = 'deliver_webhook';

export const ZDeliverWebhookPayload = z.object({ deliveryId: z.number().int().positive() });

/** One job per delivery, keyed `webhook:<id>`: a retry replaces it. */
export const deliveryJobKey = (deliveryId: number | string) => `webhook:${deliveryId}`;

import { z } from 'zod';
import { pageInput, pageOf } from '../lib/page.ts';
import { DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES } from '../db/schema.ts';

/** What an endpoint can subscribe to; `ping` comes only from `POST /webhooks/{id}/test`. */
export const SUBSCRIBABLE_EVENTS = WEBHOOK_EVENT_TYPES.filter((t) => t !== 'ping');

const ZUrl = z
  .string()
  .max(2048, 'url is at most 2048 characters')
  .meta({ description: 'https URL with a public host; checked when saved and again at every send.' });

const ZEvents = z
  .array(z.enum(SUBSCRIBABLE_EVENTS as [string, ...string[]]))
  .min(1, 'events needs at least one event type')
  .refine((v) => new Set(v).size === v.length, 'events must not repeat a type')
  .meta({ description: `Any of: ${SUBSCRIBABLE_EVENTS.map((t) => `\`${t}\``).join(', ')}.` });

const ZDescription = z.string().max(500, 'description is at most 500 characters');

const ZId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const ZCreateWebhookInput = z
  .object({
    url: ZUrl,
    events: ZEvents,
    description: ZDescription.nullish(),
    enabled: z.boolean().optional(),
  })
  .strict();
export type CreateWebhookInput = z.infer<typeof ZCreateWebhookInput>;

export const ZUpdateWebhookInput = z
  .object({
    id: ZId,
    url: ZUrl.optional(),
    events: ZEvents.optional(),
    description: ZDescription.nullish(),
    enabled: z.boolean().optional(),
  })
  .strict();
export type UpdateWebhookInput = z.infer<typeof ZUpdateWebhookInput>;

export const ZWebhookIdInput = z.object({ id: ZId }).strict();

export const ZListDeliveriesInput = z
  .object({
    id: ZId,
    ...pageInput(),
  })
  .strict();

// ---- outputs ------------------------------------------------------------------

const ZInstant = z.iso.datetime();

const webhookFields = {
  id: z.number().int(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  enabled: z.boolean(),
  created_at: ZInstant,
  updated_at: ZInstant,
};

export const ZWebhook = z.object(webhookFields).meta({ id: 'Webhook' });
export type WebhookOutput = z.infer<typeof ZWebhook>;

export const ZWebhookWithSecret = z
  .object({
    ...webhookFields,
    secret: z.string().meta({
      description:
        'The signing secret (`whsec_…`): shown only now. Verify with any Standard Webhooks library.',
    }),
  })
  .meta({ id: 'WebhookWithSecret' });

export const ZWebhookList = z.object({ items: z.array(ZWebhook) }).meta({ id: 'WebhookList' });

export const ZDelivery = z
  .object({
    id: z.number().int(),
    event_id: z.string().meta({ description: 'The `webhook-id` header: the same on every attempt.' }),
    type: z.enum(WEBHOOK_EVENT_TYPES),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    last_response: z.string().nullable().meta({ description: 'The first 1 KB of the last answer.' }),
    next_attempt_at: ZInstant.nullable(),
    delivered_at: ZInstant.nullable(),
    created_at: ZInstant,
  })
  .meta({ id: 'WebhookDelivery' });
export type DeliveryOutput = z.infer<typeof ZDelivery>;

export const ZDeliveryList = pageOf(ZDelivery, 'WebhookDeliveryList');

export const ZDeletedWebhook = z
  .object({ id: z.number().int(), deleted: z.literal(true) })
  .meta({ id: 'DeletedWebhook' });

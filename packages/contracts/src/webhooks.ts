import { type Static, Type } from "typebox";

/** What a webhook can subscribe to: the moments an operator or a pager wants to hear about. */
export const WEBHOOK_EVENTS = [
  "cutover.ready",
  "cutover.started",
  "migration.succeeded",
  "migration.failed",
  "migration.cancelled",
  "migration.rolled_back",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** How the dashboard names each event. */
export const WEBHOOK_EVENT_LABELS: Record<WebhookEvent, string> = {
  "cutover.ready": "ready for cutover",
  "cutover.started": "cutover started",
  "migration.succeeded": "succeeded",
  "migration.failed": "failed",
  "migration.cancelled": "cancelled",
  "migration.rolled_back": "rolled back",
};

export const WebhookEventName = Type.Enum(WEBHOOK_EVENTS, {
  description: "cutover.ready (waiting for cutover), cutover.started (the VM is being stopped), or how it ended",
});

/** A webhook as the API shows it: never its secret. */
export const Webhook = Type.Object(
  {
    id: Type.Integer(),
    url: Type.String(),
    events: Type.Array(WebhookEventName),
    createdBy: Type.String(),
    createdAt: Type.String(),
  },
  { $id: "Webhook" },
);
export type Webhook = Static<typeof Webhook>;

export const WebhookList = Type.Object({ webhooks: Type.Array(Webhook) });
export type WebhookList = Static<typeof WebhookList>;

export const CreateWebhook = Type.Object(
  {
    url: Type.String({ minLength: 8, maxLength: 2048, description: "http:// or https:// only" }),
    events: Type.Array(WebhookEventName, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true }),
    secret: Type.String({
      minLength: 16,
      maxLength: 256,
      description: "HMAC-SHA256 key for X-Blockferry-Signature; stored encrypted, never shown again",
    }),
  },
  { additionalProperties: false },
);
export type CreateWebhook = Static<typeof CreateWebhook>;

export const WebhookDeliveryState = Type.Union([
  Type.Literal("pending"),
  Type.Literal("delivered"),
  Type.Literal("failed"),
]);

/** One event sent (or being sent) to one webhook. */
export const WebhookDelivery = Type.Object({
  id: Type.Integer({ description: "also sent as X-Blockferry-Delivery" }),
  event: WebhookEventName,
  jobId: Type.Union([Type.Integer(), Type.Null()]),
  state: WebhookDeliveryState,
  attempts: Type.Integer({ minimum: 0 }),
  lastStatus: Type.Union([Type.Integer(), Type.Null()], { description: "HTTP status of the last attempt" }),
  lastError: Type.Union([Type.String(), Type.Null()], { description: "why the last attempt failed without a status" }),
  createdAt: Type.String(),
  lastAttemptAt: Type.Union([Type.String(), Type.Null()]),
  nextAttemptAt: Type.Union([Type.String(), Type.Null()], { description: "when the next retry is due" }),
});
export type WebhookDelivery = Static<typeof WebhookDelivery>;

export const WebhookDeliveryList = Type.Object({ deliveries: Type.Array(WebhookDelivery) });
export type WebhookDeliveryList = Static<typeof WebhookDeliveryList>;

import { CreateWebhook, IdParams, Webhook, WebhookDeliveryList, WebhookList } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { actorOf } from "../../auth/principal.ts";
import type { WebhookService } from "../../webhooks/service.ts";
import { requestErrors } from "../error-responses.ts";

const errors = requestErrors;
const admin = { access: "admin" } as const;

export const webhookRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookService }> = async (app, { webhooks }) => {
  app.get(
    "/webhooks",
    {
      config: admin,
      schema: { operationId: "listWebhooks", tags: ["webhooks"], response: { 200: WebhookList, ...errors } },
    },
    async () => ({ webhooks: webhooks.list() }),
  );

  app.post(
    "/webhooks",
    {
      config: admin,
      schema: {
        operationId: "createWebhook",
        tags: ["webhooks"],
        description:
          "Job events are POSTed as JSON, signed: `X-Blockferry-Signature: sha256=` HMAC-SHA256(secret, " +
          "`X-Blockferry-Timestamp` + '.' + body). The secret is stored encrypted and never returned.",
        body: CreateWebhook,
        response: { 201: Webhook, ...errors },
      },
    },
    async (request, reply) =>
      reply.status(201).send(webhooks.create(request.body, actorOf(request.principal, request.ip))),
  );

  app.delete(
    "/webhooks/:id",
    {
      config: admin,
      schema: {
        operationId: "deleteWebhook",
        tags: ["webhooks"],
        description: "Its pending deliveries are dropped with it.",
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      webhooks.remove(request.params.id, actorOf(request.principal, request.ip));
      return reply.status(204).send(null);
    },
  );

  app.get(
    "/webhooks/:id/deliveries",
    {
      config: admin,
      schema: {
        operationId: "listWebhookDeliveries",
        tags: ["webhooks"],
        description: "The newest 200 deliveries: attempts, last HTTP status or error, next retry.",
        params: IdParams,
        response: { 200: WebhookDeliveryList, ...errors },
      },
    },
    async (request) => ({ deliveries: webhooks.deliveries(request.params.id) }),
  );
};

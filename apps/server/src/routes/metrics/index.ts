import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { Registry } from "prom-client";
import { Type } from "typebox";
import { requestErrors } from "../error-responses.ts";

/** Prometheus text format, for any signed-in role: scrape with an API token (`authorization: {credentials}`). */
export const metricsRoutes: FastifyPluginAsyncTypebox<{ registry: Registry }> = async (app, { registry }) => {
  app.get(
    "/metrics",
    {
      config: { access: "viewer" },
      schema: {
        operationId: "metrics",
        tags: ["metrics"],
        description: "Prometheus text exposition format; needs a bearer token like every route.",
        response: { 200: Type.String(), ...requestErrors },
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
};

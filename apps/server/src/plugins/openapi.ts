import swagger from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/** Collects every route schema into one OpenAPI document, served at /api/openapi.json. */
export const openapi = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: "3.1.0",
        info: { title: "Blockferry API", version: "0.1.0", description: "Near-zero-downtime LVM VM migration" },
      },
      refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    });
  },
  { name: "openapi" },
);

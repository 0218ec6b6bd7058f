import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/** Serves the built dashboard; any non-API path falls back to index.html for client-side routing. */
export const webStatic = fp(
  async (app: FastifyInstance, opts: { webDir: string }) => {
    if (!existsSync(join(opts.webDir, "index.html"))) {
      app.log.warn({ webDir: opts.webDir }, "dashboard not built: run `pnpm --filter @blockferry/web build`");
      return;
    }
    await app.register(fastifyStatic, { root: opts.webDir, wildcard: false, index: ["index.html"] });
    app.get("/*", { schema: { hide: true } }, (request, reply) => {
      if (request.url.startsWith("/api/")) return reply.callNotFound();
      return reply.sendFile("index.html");
    });
  },
  { name: "web-static", dependencies: ["error-handler"] },
);

import { ErrorBody, Health } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";

export const healthRoutes: FastifyPluginAsyncTypebox<{ version: string; sshNativeCrypto: boolean }> = async (
  app,
  opts,
) => {
  app.get(
    "/health",
    {
      config: { access: "public" },
      schema: { operationId: "getHealth", tags: ["system"], response: { 200: Health, 500: ErrorBody } },
    },
    async () => ({
      status: "ok" as const,
      version: opts.version,
      uptimeSeconds: process.uptime(),
      sshNativeCrypto: opts.sshNativeCrypto,
    }),
  );
};

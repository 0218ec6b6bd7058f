import { AuditPage, AuditQuery, ErrorBody } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { AuditRepo } from "../../db/repositories/audit.ts";

export const auditRoutes: FastifyPluginAsyncTypebox<{ audit: Pick<AuditRepo, "page"> }> = async (app, { audit }) => {
  app.get(
    "/audit",
    {
      config: { access: "admin" },
      schema: {
        operationId: "listAudit",
        tags: ["audit"],
        description: "Who did what, newest first, in pages.",
        querystring: AuditQuery,
        response: { 200: AuditPage, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 100;
      const entries = audit.page({ before: request.query.before, limit });
      return { entries, nextBefore: entries.length === limit ? (entries.at(-1)?.id ?? null) : null };
    },
  );
};

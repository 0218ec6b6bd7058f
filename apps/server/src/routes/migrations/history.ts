import { IdParams, MigrationReport } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { MigrationHistory } from "../../jobs/migration-history.ts";
import { hostErrors } from "../error-responses.ts";
import { readById } from "../read-by-id.ts";
import { maskForRole } from "./mask.ts";

export interface MigrationHistoryRouteDeps {
  history: MigrationHistory;
}

const viewer = { access: "viewer" } as const;

/** A migration's report (passes, attempts, phase durations) and its log as a file: reads, for every role. */
export const migrationHistoryRoutes: FastifyPluginAsyncTypebox<MigrationHistoryRouteDeps> = async (
  app,
  { history },
) => {
  app.get(
    "/migrations/:id/report",
    { ...readById("getMigrationReport", "migrations", MigrationReport, hostErrors), config: viewer },
    async (request) => history.report(request.params.id),
  );

  app.get(
    "/migrations/:id/log",
    {
      config: viewer,
      schema: {
        operationId: "downloadMigrationLog",
        tags: ["migrations"],
        description: "The job's events as a text file; a viewer sees the VM commands hidden, as in the API.",
        params: IdParams,
        produces: ["text/plain"],
        response: { 200: Type.String(), ...hostErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const text = history.log(id, (m) => maskForRole(m, request.principal?.role));
      return reply
        .type("text/plain; charset=utf-8")
        .header("content-disposition", `attachment; filename="blockferry-migration-${id}.log"`)
        .header("cache-control", "no-store")
        .send(text);
    },
  );
};

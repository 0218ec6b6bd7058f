import {
  BandwidthLimit,
  ChunkMap,
  ChunkMapQuery,
  CreateMigration,
  CutoverPolicy,
  IdParams,
  Migration,
  MigrationList,
  MigrationListQuery,
  PrecheckResult,
} from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { actorOf } from "../../auth/principal.ts";
import { toDiskSet } from "../../jobs/migration-disks.ts";
import type { MigrationService } from "../../jobs/migration-service.ts";
import { hostErrors } from "../error-responses.ts";
import { readById } from "../read-by-id.ts";
import { maskForRole } from "./mask.ts";
import { checkMigrationNames } from "./names.ts";

export interface MigrationRouteDeps {
  migrations: MigrationService;
  prechecks(input: CreateMigration): Promise<PrecheckResult>;
}

const errors = hostErrors;
const operator = { access: "operator" } as const;

export const migrationRoutes: FastifyPluginAsyncTypebox<MigrationRouteDeps> = async (
  app,
  { migrations, prechecks },
) => {
  app.post(
    "/prechecks",
    {
      config: operator,
      schema: {
        operationId: "runPrechecks",
        tags: ["migrations"],
        body: CreateMigration,
        response: { 200: PrecheckResult, ...errors },
      },
      preHandler: async (request) => checkMigrationNames(request.body),
    },
    async (request) => prechecks(toDiskSet(request.body)),
  );

  app.post(
    "/migrations",
    {
      config: operator,
      schema: {
        operationId: "createMigration",
        tags: ["migrations"],
        description:
          "409 when an unfinished migration (queued, running, waiting_cutover, cancelling) already has the same " +
          "source LV or target LV; the message and details.migrationId name it.",
        body: CreateMigration,
        response: { 201: Migration, ...errors },
      },
      preHandler: async (request) => checkMigrationNames(request.body),
    },
    async (request, reply) =>
      reply.status(201).send(migrations.create(toDiskSet(request.body), actorOf(request.principal, request.ip))),
  );

  app.get(
    "/migrations",
    {
      schema: {
        operationId: "listMigrations",
        tags: ["migrations"],
        querystring: MigrationListQuery,
        response: { 200: MigrationList, ...errors },
      },
    },
    async (request) => ({
      migrations: migrations.list(request.query).map((m) => maskForRole(m, request.principal?.role)),
    }),
  );

  app.get("/migrations/:id", readById("getMigration", "migrations", Migration, errors), async (request) =>
    maskForRole(migrations.get(request.params.id), request.principal?.role),
  );

  const chunkMapRoute = readById("getChunkMap", "migrations", ChunkMap, errors);
  app.get(
    "/migrations/:id/chunk-map",
    { schema: { ...chunkMapRoute.schema, querystring: ChunkMapQuery } },
    async (request) => migrations.chunkMap(request.params.id, request.query.disk ?? 0),
  );

  app.put(
    "/migrations/:id/bandwidth",
    {
      config: operator,
      schema: {
        operationId: "setMigrationBandwidth",
        tags: ["migrations"],
        params: IdParams,
        body: Type.Object(
          { bytesPerSecond: Type.Union([BandwidthLimit, Type.Null()]) },
          { additionalProperties: false },
        ),
        response: { 200: Migration, ...errors },
      },
    },
    async (request) =>
      migrations.setBandwidth(request.params.id, request.body.bytesPerSecond, actorOf(request.principal, request.ip)),
  );

  app.put(
    "/migrations/:id/cutover-policy",
    {
      config: operator,
      schema: {
        operationId: "setMigrationCutoverPolicy",
        tags: ["migrations"],
        description:
          "Changes when the migration cuts over (mode, budget, passes, window) until its VM is stopped; 409 once " +
          "the cutover is under way or the migration finished.",
        params: IdParams,
        body: CutoverPolicy,
        response: { 200: Migration, ...errors },
      },
    },
    async (request) =>
      migrations.setCutoverPolicy(request.params.id, request.body, actorOf(request.principal, request.ip)),
  );

  for (const action of ["cutover", "cancel", "retry"] as const) {
    app.post(
      `/migrations/:id/${action}`,
      {
        config: operator,
        schema: {
          operationId: `${action}Migration`,
          tags: ["migrations"],
          ...(action === "cancel" && {
            description:
              "Rolls the migration back in any phase before start_vm: stops the running step, restarts the source VM " +
              "if it was stopped, drops the snapshots and the target LV it created (unless removeTargetOnCancel is " +
              "false). From start_vm on the VM may run on the target: 409, with the reason in the error message.",
          }),
          params: IdParams,
          response: { 200: Migration, ...errors },
        },
      },
      async (request) => migrations[action](request.params.id, actorOf(request.principal, request.ip)),
    );
  }
};

import { DecommissionSource, IdParams, Migration } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { actorOf } from "../../auth/principal.ts";
import type { DecommissionService } from "../../jobs/decommission.ts";
import { hostErrors } from "../error-responses.ts";

/** POST /migrations/:id/decommission: removes the source LV a succeeded migration kept (operator, typed confirm). */
export const decommissionRoutes: FastifyPluginAsyncTypebox<{ decommission: DecommissionService }> = async (
  app,
  { decommission },
) => {
  app.post(
    "/migrations/:id/decommission",
    {
      config: { access: "operator" },
      schema: {
        operationId: "decommissionMigrationSource",
        tags: ["migrations"],
        description:
          "Removes the source LV a succeeded migration kept (`lvremove`), audited. `confirm` must be the source " +
          "`vg/lv` exactly (400 otherwise). 409 unless the migration succeeded, its source LV still exists on the " +
          "source host carrying the tag blockferry_migrated_<id>, is not open and has no snapshots, and no " +
          "unfinished migration uses it; details.reason says which.",
        params: IdParams,
        body: DecommissionSource,
        response: { 200: Migration, ...hostErrors },
      },
    },
    async (request) =>
      decommission.decommission(request.params.id, request.body.confirm, actorOf(request.principal, request.ip)),
  );
};

import { DecommissionSource, IdParams, Migration } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { actorOf } from "../../auth/principal.ts";
import type { DecommissionService } from "../../jobs/decommission.ts";
import { hostErrors } from "../error-responses.ts";

/** POST /migrations/:id/decommission: removes the source LVs a succeeded migration kept (operator, typed confirm). */
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
          "Removes the source LVs a succeeded migration kept, one per disk (`lvremove`), each audited. `confirm` " +
          "must name every disk's source `vg/lv`, disk 0 first, joined by commas (one disk: its `vg/lv`); the 400 " +
          "says the exact text (details.expected). Every disk not removed yet is checked before any is removed: " +
          "409 unless the migration succeeded and each source LV still exists on the source host carrying the tag " +
          "blockferry_migrated_<id>, is not open, has no snapshots, and no unfinished migration uses it; " +
          "details.reason says why (the first disk's), details.disks which disks and why, and nothing is removed. " +
          "A failure part-way (409 remove_failed) lists details.removed and details.notRemoved; the same request " +
          "again removes the rest.",
        params: IdParams,
        body: DecommissionSource,
        response: { 200: Migration, ...hostErrors },
      },
    },
    async (request) =>
      decommission.decommission(request.params.id, request.body.confirm, actorOf(request.principal, request.ip)),
  );
};

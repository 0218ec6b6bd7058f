// Decommission: after a migration succeeded, the source LV it kept is removed on an operator's typed word. The
// only path by which Blockferry removes an LV it did not create, so it asks the host, not the database, whether
// the LV is still the one that job moved away (its blockferry_migrated_<id> tag) and that nothing holds it open.
import type { Migration } from "@blockferry/contracts";
import { lvremoveCommand, migratedAwayTag } from "@blockferry/lvm";
import type { Actor, AuditRepo } from "../db/repositories/audit.ts";
import type { JobRow, JobsRepo } from "../db/repositories/jobs.ts";
import { ConflictError, InvalidInputError, NotFoundError } from "../errors.ts";
import type { EventHub } from "../events/hub.ts";
import type { HostShell } from "./context.ts";
import { findLv, lvName, vgName } from "./lvm-ops.ts";
import { toMigration } from "./migration-view.ts";

export interface DecommissionDeps {
  jobs: Pick<JobsRepo, "get" | "updateIfState" | "activeUsing">;
  audit: Pick<AuditRepo, "record">;
  hub: Pick<EventHub, "append">;
  shellFor(hostId: number): HostShell;
}

const refuse = (job: JobRow, reason: string, message: string) =>
  new ConflictError(`migration ${job.id}: ${message}`, { reason });

export function createDecommissionService(d: DecommissionDeps) {
  /** Jobs whose source LV is being removed right now: a second request waits for nothing, it is refused. */
  const inProgress = new Set<number>();

  /** What must hold before anything is asked of the host; the 409s and the 400 in the order an operator fixes them. */
  const checkJob = (id: number, confirm: string): JobRow => {
    const job = d.jobs.get(id);
    if (!job) throw new NotFoundError("migration", id);
    const lv = `${job.sourceVg}/${job.sourceLv}`;
    if (job.state !== "succeeded")
      throw refuse(job, "not_succeeded", `it is ${job.state}; only the source LV of a succeeded migration is removed`);
    if (job.sourceDecommissionedAt)
      throw refuse(
        job,
        "already_removed",
        `${lv} was removed already, at ${job.sourceDecommissionedAt} by ${job.sourceDecommissionedBy}`,
      );
    if (confirm !== lv)
      throw new InvalidInputError(`body/confirm must be the source LV exactly: type ${lv}`, { expected: lv });
    const other = d.jobs.activeUsing({ role: "source", hostId: job.sourceHostId, vg: job.sourceVg, lv: job.sourceLv });
    if (other) throw refuse(job, "volume_in_use", `${lv} is the source of unfinished migration ${other.id}`);
    return job;
  };

  return {
    /** Removes the kept source LV of succeeded job `id`; `confirm` must be its `vg/lv`, as the operator typed it. */
    async decommission(id: number, confirm: string, actor: Actor): Promise<Migration> {
      let job = checkJob(id, confirm);
      if (inProgress.has(id)) throw refuse(job, "in_progress", "its source LV is being removed already");
      inProgress.add(id);
      try {
        const shell = d.shellFor(job.sourceHostId);
        const lv = `${job.sourceVg}/${job.sourceLv}`;
        const where = `${lv} on ${shell.name}`;
        const rec = await findLv(shell, job.sourceVg, job.sourceLv);
        if (!rec) throw refuse(job, "source_gone", `${where} does not exist any more`);
        const tag = migratedAwayTag(job.id);
        if (!rec.tags.includes(tag))
          throw refuse(
            job,
            "not_tagged",
            `${where} does not carry the tag ${tag}: it may have been recreated or reused since the migration. ` +
              `If it is the copy this migration left, run \`lvchange --addtag ${tag} ${lv}\` there first`,
          );
        if (rec.open)
          throw refuse(
            job,
            "source_open",
            `${where} is open (in use by a VM or another process, per lvs' open bit): stop what uses it, then retry`,
          );
        if (rec.kind === "origin")
          throw refuse(job, "has_snapshots", `${where} has snapshots: remove them first, then retry`);
        // Stopped with SIGTERM only, as every LVM change is (lvm-ops): no half-removed LV.
        await shell.run(lvremoveCommand({ vg: vgName(job.sourceVg), lv: lvName(job.sourceLv) }), { stop: "term" });

        const at = new Date().toISOString();
        // The LV is gone whatever the row says now, so this write is conditional on the state only.
        job =
          d.jobs.updateIfState(id, ["succeeded"], { sourceDecommissionedAt: at, sourceDecommissionedBy: actor.name }) ??
          job;
        d.audit.record(actor, "migration.decommission", `job:${id}`, {
          hostId: job.sourceHostId,
          host: shell.name,
          lv,
        });
        d.hub.append(id, "job.log", { level: "info", message: `source LV ${where} removed by ${actor.name}` });
        return toMigration(job);
      } finally {
        inProgress.delete(id);
      }
    },
  };
}
export type DecommissionService = ReturnType<typeof createDecommissionService>;

// Decommission: after a migration succeeded, the source LVs it kept (one per disk of the VM) are removed on an
// operator's typed word. The only path by which Blockferry removes LVs it did not create, so it asks the host, not
// the database, whether each LV is still the one that job moved away (its blockferry_migrated_<id> tag) and that
// nothing holds it open; every disk is checked before any is removed, then they are removed one by one, each
// recorded as it goes, so a request after a failure removes only what is left.
import { decommissionConfirmText, type Migration } from "@blockferry/contracts";
import { lvremoveCommand, migratedAwayTag } from "@blockferry/lvm";
import type { Actor, AuditRepo } from "../db/repositories/audit.ts";
import type { JobDisksRepo } from "../db/repositories/job-disks.ts";
import type { JobRow, JobsRepo } from "../db/repositories/jobs.ts";
import {
  ConflictError,
  InvalidInputError,
  messageOf,
  NotFoundError,
  UpstreamError,
  upstreamSummary,
} from "../errors.ts";
import type { EventHub } from "../events/hub.ts";
import type { HostShell } from "./context.ts";
import { findLv, lvName, vgName } from "./lvm-ops.ts";
import { disksOfJob } from "./migration-disks.ts";
import { toMigration } from "./migration-view.ts";

export interface DecommissionDeps {
  jobs: Pick<JobsRepo, "get" | "disks" | "updateIfState" | "activeUsing">;
  disks: Pick<JobDisksRepo, "markSourceRemoved" | "markSourceRemovalStarted">;
  audit: Pick<AuditRepo, "record">;
  hub: Pick<EventHub, "append">;
  shellFor(hostId: number): HostShell;
}

/** A disk of the job as decommission sees it: its source LV, and when it was removed (null while kept). */
interface KeptDisk {
  index: number;
  lv: string;
  vg: string;
  name: string;
  removedAt: string | null;
  removedBy: string | null;
  /** Who sent this disk's lvremove, when no record of its end followed (a crash in between): null otherwise. */
  removalStartedBy: string | null;
}

/** Why one disk's source LV may not be removed now. */
interface Refusal {
  disk: number;
  lv: string;
  reason: string;
  message: string;
}

const refuse = (job: JobRow, reason: string, message: string, details: Record<string, unknown> = {}) =>
  new ConflictError(`migration ${job.id}: ${message}`, { reason, ...details });

const listed = (disks: readonly { name: string }[]) => disks.map((d) => d.name).join(", ");

export function createDecommissionService(d: DecommissionDeps) {
  /** Jobs whose source LVs are being removed right now: a second request waits for nothing, it is refused. */
  const inProgress = new Set<number>();

  const disksOf = (job: JobRow): KeptDisk[] => {
    const rows = d.jobs.disks(job.id);
    const byIndex = new Map(rows.map((r) => [r.index, r]));
    return disksOfJob(job, rows).map((v) => {
      const row = byIndex.get(v.index);
      // Without its disk row (a job written around the repository), disk 0's removal is the job's own record.
      const removedAt = row?.sourceRemovedAt ?? (v.index === 0 ? job.sourceDecommissionedAt : null);
      const removedBy = row?.sourceRemovedBy ?? (v.index === 0 ? job.sourceDecommissionedBy : null);
      return {
        index: v.index,
        vg: v.sourceVg,
        lv: v.sourceLv,
        name: `${v.sourceVg}/${v.sourceLv}`,
        removedAt,
        removedBy,
        removalStartedBy: removedAt === null ? (row?.sourceRemovalStartedBy ?? null) : null,
      };
    });
  };

  /** What must hold before anything is asked of the host; the 409s and the 400 in the order an operator fixes them. */
  const checkJob = (id: number, confirm: string) => {
    const job = d.jobs.get(id);
    if (!job) throw new NotFoundError("migration", id);
    if (job.state !== "succeeded")
      throw refuse(
        job,
        "not_succeeded",
        `it is ${job.state}; only the source LVs of a succeeded migration are removed`,
      );
    const disks = disksOf(job);
    const kept = disks.filter((k) => k.removedAt === null);
    if (kept.length === 0) {
      const last = disks.at(-1) as KeptDisk;
      const when = job.sourceDecommissionedAt ?? last.removedAt;
      const who = job.sourceDecommissionedBy ?? last.removedBy;
      throw refuse(
        job,
        "already_removed",
        `${listed(disks)} ${disks.length === 1 ? "was" : "were"} removed already, at ${when} by ${who}`,
      );
    }
    const expected = decommissionConfirmText(disks);
    if (confirm !== expected)
      throw new InvalidInputError(
        disks.length === 1
          ? `body/confirm must be the source LV exactly: type ${expected}`
          : `body/confirm must name every disk's source LV, disk 0 first, joined by commas: type ${expected}`,
        { expected },
      );
    const busy: Refusal[] = [];
    for (const k of kept) {
      const other = d.jobs.activeUsing({ role: "source", hostId: job.sourceHostId, vg: k.vg, lv: k.lv }, id);
      if (other)
        busy.push({
          disk: k.index,
          lv: k.name,
          reason: "volume_in_use",
          message: `${k.name} is the source of unfinished migration ${other.id}`,
        });
    }
    if (busy.length) throw refusal(job, disks, busy);
    return { job, disks, kept };
  };

  /** One 409 for every disk that may not go: nothing was removed by this request, and the body says which and why. */
  const refusal = (job: JobRow, disks: readonly KeptDisk[], problems: readonly Refusal[]) => {
    const first = problems[0] as Refusal;
    const earlier = disks.filter((k) => k.removedAt !== null);
    const message =
      problems.map((p) => p.message).join("; ") +
      (disks.length > 1 ? `; nothing removed${earlier.length ? ` (removed before: ${listed(earlier)})` : ""}` : "");
    return refuse(job, first.reason, message, {
      disks: problems.map((p) => ({ index: p.disk, lv: p.lv, reason: p.reason })),
    });
  };

  /**
   * What the host says about one kept source LV: null when it may be removed, "removed" when it is gone after an
   * lvremove of ours whose end was never recorded (the server stopped in between).
   */
  const hostRefusal = async (job: JobRow, shell: HostShell, k: KeptDisk): Promise<Refusal | "removed" | null> => {
    const where = `${k.name} on ${shell.name}`;
    const no = (reason: string, message: string): Refusal => ({ disk: k.index, lv: k.name, reason, message });
    const rec = await findLv(shell, k.vg, k.lv);
    if (!rec && k.removalStartedBy !== null) return "removed";
    if (!rec) return no("source_gone", `${where} does not exist any more`);
    const tag = migratedAwayTag(job.id);
    if (!rec.tags.includes(tag))
      return no(
        "not_tagged",
        `${where} does not carry the tag ${tag}: it may have been recreated or reused since the migration. ` +
          `If it is the copy this migration left, run \`lvchange --addtag ${tag} ${k.name}\` there first`,
      );
    if (rec.open)
      return no(
        "source_open",
        `${where} is open (in use by a VM or another process, per lvs' open bit): stop what uses it, then retry`,
      );
    if (rec.kind === "origin") return no("has_snapshots", `${where} has snapshots: remove them first, then retry`);
    return null;
  };

  return {
    /**
     * Removes the kept source LVs of succeeded job `id`, those not removed yet; `confirm` must be
     * decommissionConfirmText of all its disks, as the operator typed it.
     */
    async decommission(id: number, confirm: string, actor: Actor): Promise<Migration> {
      const checked = checkJob(id, confirm);
      let { job } = checked;
      const { disks, kept } = checked;
      if (inProgress.has(id)) throw refuse(job, "in_progress", "its source LVs are being removed already");
      inProgress.add(id);
      try {
        const shell = d.shellFor(job.sourceHostId);
        const set = disks.length > 1;
        // Every disk is checked before any is removed: a doubt about one keeps them all.
        const problems: Refusal[] = [];
        const removedUnrecorded = new Set<number>();
        for (const k of kept) {
          const problem = await hostRefusal(job, shell, k);
          if (problem === "removed") removedUnrecorded.add(k.index);
          else if (problem) problems.push(problem);
        }
        if (problems.length) throw refusal(job, disks, problems);

        let at = "";
        for (const [i, k] of kept.entries()) {
          const where = `${k.name} on ${shell.name}`;
          // Removed by an earlier request that stopped before recording it: recorded now, as that request's.
          const earlier = removedUnrecorded.has(k.index) ? k.removalStartedBy : null;
          if (earlier === null) {
            d.disks.markSourceRemovalStarted(id, k.index, new Date().toISOString(), actor.name);
            try {
              // Stopped with SIGTERM only, as every LVM change is (lvm-ops): no half-removed LV.
              await shell.run(lvremoveCommand({ vg: vgName(k.vg), lv: lvName(k.lv) }), { stop: "term" });
            } catch (err) {
              // The command may have failed after LVM removed the LV (a lost connection): the host says which.
              const gone = await findLv(shell, k.vg, k.lv).then(
                (rec) => rec === null,
                () => false,
              );
              if (!gone) throw removalFailed(job, shell, disks, kept.slice(i), err);
            }
          }
          at = new Date().toISOString();
          const by = earlier ?? actor.name;
          d.disks.markSourceRemoved(id, k.index, at, by);
          d.audit.record(actor, "migration.decommission", `job:${id}`, {
            hostId: job.sourceHostId,
            host: shell.name,
            lv: k.name,
            disk: k.index,
            ...(earlier === null ? {} : { removedBy: earlier, interrupted: true }),
          });
          d.hub.append(id, "job.log", {
            level: "info",
            message:
              `${set ? `disk ${k.index}: ` : ""}source LV ${where} removed by ${by}` +
              (earlier === null
                ? ""
                : ` (its removal was not recorded before the server stopped; recorded now by ${actor.name})`),
          });
        }
        // Every disk's source LV is gone whatever the row says now, so this write is conditional on the state only.
        job =
          d.jobs.updateIfState(id, ["succeeded"], { sourceDecommissionedAt: at, sourceDecommissionedBy: actor.name }) ??
          job;
        return toMigration(job, d.jobs.disks(id));
      } finally {
        inProgress.delete(id);
      }
    },
  };

  /** The 409 after a removal failed part-way: which LVs are gone (before and by this request) and which are kept. */
  function removalFailed(
    job: JobRow,
    shell: HostShell,
    disks: readonly KeptDisk[],
    left: readonly KeptDisk[],
    err: unknown,
  ): ConflictError {
    const failed = left[0] as KeptDisk;
    // The body names the kind of failure only (as a 502 would); the command's stderr goes to the job log.
    const cause = err instanceof UpstreamError ? upstreamSummary(err) : "see the job log";
    d.hub.append(job.id, "job.log", {
      level: "error",
      message: `removing source LV ${failed.name} on ${shell.name} failed: ${messageOf(err)}`,
    });
    const keptNames = new Set(left.map((k) => k.name));
    const removed = disks.filter((k) => !keptNames.has(k.name));
    return refuse(
      job,
      "remove_failed",
      `removing ${failed.name} on ${shell.name} failed (${cause}); ` +
        `removed: ${removed.length ? listed(removed) : "none"}; not removed: ${listed(left)}. ` +
        "Send the same request again to remove the rest",
      { removed: removed.map((k) => k.name), notRemoved: left.map((k) => k.name) },
    );
  }
}
export type DecommissionService = ReturnType<typeof createDecommissionService>;

import type {
  ChunkMap,
  CreateMigration,
  CutoverPolicy,
  Migration,
  MigrationListQuery,
  MigrationOptions,
} from "@blockferry/contracts";
import { humanBytes } from "@blockferry/contracts/units";
import type { JobState } from "@blockferry/contracts/vocabulary";
import { type Actor, type AuditRepo, SYSTEM } from "../db/repositories/audit.ts";
import type { ChunkMapRepo } from "../db/repositories/chunk-map.ts";
import type { HostsRepo } from "../db/repositories/hosts.ts";
import { isActiveVolumeClash, type JobRow, type JobsRepo } from "../db/repositories/jobs.ts";
import { ConflictError, InvalidInputError, NotFoundError, PreconditionError } from "../errors.ts";
import type { EventHub } from "../events/hub.ts";
import { CANCEL_FLAG_STATES, cancelRefusal } from "./cancel-rule.ts";
import { buildChunkMap } from "./chunk-map.ts";
import { isPastNoReturn, NO_RETURN_PHASES } from "./context.ts";
import { checkDiskSet, type DiskVolumes, disksOfJob, toDiskSet } from "./migration-disks.ts";
import { toMigrationEvent, toMigration as viewOf } from "./migration-view.ts";

/**
 * Why a cancel is refused from start_vm on: the operator reads this in the dashboard, the CLI and the API's 409.
 */
function pastNoReturn(job: JobRow, failed: boolean): ConflictError {
  const where = `${job.targetVg}/${job.targetLv} on the target`;
  const message = failed
    ? `migration ${job.id} cannot be cancelled: it failed in ${job.phase}, after the VM was started from ${where}. ` +
      "Rolling back would restart the VM on the source and lose everything it wrote on the target since. " +
      "Retry the migration: what is left is dropping its snapshots on the source."
    : `migration ${job.id} cannot be cancelled: it is in ${job.phase}, past the point of no return. The VM is ` +
      `${job.phase === "start_vm" ? "being started" : "running"} from ${where}; rolling back would restart it on ` +
      "the source and lose everything it wrote on the target since. The migration finishes on its own (only " +
      "snapshots are left to drop); should starting the VM fail, the failed migration can then be cancelled.";
  return new ConflictError(message, { phase: job.phase, reason: "past_point_of_no_return" });
}

export interface MigrationServiceDeps {
  chunkMaps: Pick<ChunkMapRepo, "rangesOf">;
  jobs: Pick<JobsRepo, "insert" | "get" | "list" | "updateIfState" | "activeUsing" | "disks">;
  hosts: Pick<HostsRepo, "get">;
  audit: Pick<AuditRepo, "record">;
  hub: Pick<EventHub, "append">;
  /** Wakes the runner after a job becomes runnable. */
  kick(): void;
  /** Interrupts a job this process runs, after its cancel flag was set. */
  interrupt(jobId: number): void;
  /** Tells the runner of a job's changed options (stored already), so a copy already running follows them. */
  updateOptions(jobId: number, options: MigrationOptions): void;
}

/** The policy as stored: the mode in `cutover`, a budget or window (if any) in `cutoverPolicy`. */
const cutoverColumns = (c: CreateMigration["cutover"]) => {
  const policy: CutoverPolicy = typeof c === "object" ? c : { mode: c ?? "manual" };
  const detailed = Object.keys(policy).length > 1;
  return { cutover: policy.mode, cutoverPolicy: detailed ? policy : null };
};

/** A policy may change until the VM is stopped: from then on the cutover is under way. */
const POLICY_FIXED_PHASES = ["final_delta", "verify", "start_vm", "cleanup", "done"] as const;
const POLICY_STATES = ["queued", "running", "waiting_cutover", "failed", "rolled_back"] as const;

/** Ended, but not for good: retry resumes them, cancel cleans up after them. */
const RETRYABLE_STATES = ["failed", "rolled_back"] as const satisfies readonly JobState[];
const isRetryable = (state: JobState): state is (typeof RETRYABLE_STATES)[number] =>
  (RETRYABLE_STATES as readonly JobState[]).includes(state);

export function createMigrationService(d: MigrationServiceDeps) {
  const toMigration = (job: JobRow) => viewOf(job, d.jobs.disks(job.id));
  const load = (id: number) => {
    const job = d.jobs.get(id);
    if (!job) throw new NotFoundError("migration", id);
    return job;
  };
  const trustedHost = (id: number, role: string) => {
    const host = d.hosts.get(id);
    if (!host) throw new InvalidInputError(`${role} host ${id} does not exist`);
    if (host.status !== "trusted")
      throw new PreconditionError(
        `${role} host "${host.name}" is not trusted (${host.status}): confirm its key fingerprint first`,
      );
    return host;
  };

  type Volumes = { sourceHostId: number; targetHostId: number; disks: readonly DiskVolumes[] };
  const volumesOf = (job: JobRow): Volumes => ({ ...job, disks: disksOfJob(job, d.jobs.disks(job.id)) });
  /** A 409 naming the unfinished migration that already uses one of these disks' source or target LVs, if one does. */
  const volumeInUse = (j: Volumes, exceptId?: number): ConflictError | null => {
    for (const disk of j.disks)
      for (const role of ["source", "target"] as const) {
        const v =
          role === "source"
            ? { role, hostId: j.sourceHostId, vg: disk.sourceVg, lv: disk.sourceLv }
            : { role, hostId: j.targetHostId, vg: disk.targetVg, lv: disk.targetLv };
        const other = d.jobs.activeUsing(v, exceptId);
        if (!other) continue;
        const host = d.hosts.get(v.hostId)?.name ?? `host ${v.hostId}`;
        return new ConflictError(
          `${v.vg}/${v.lv} on ${host} is the ${role} of unfinished migration ${other.id} (${other.state}): ` +
            "wait for it to finish or cancel it first",
          { reason: "volume_in_use", role, migrationId: other.id },
        );
      }
    return null;
  };
  /**
   * A write that makes a job an unfinished user of its LVs. Checked first for a clear message; the database's
   * partial unique indexes refuse a second user all the same (requests in parallel, other processes).
   */
  const claimingVolumes = <T>(j: Volumes, exceptId: number | undefined, write: () => T): T => {
    const inUse = volumeInUse(j, exceptId);
    if (inUse) throw inUse;
    try {
      return write();
    } catch (err) {
      if (!isActiveVolumeClash(err)) throw err;
      throw volumeInUse(j, exceptId) ?? new ConflictError("another migration took the same LV at the same moment");
    }
  };

  return {
    create(input: CreateMigration, actor: Actor = SYSTEM): Migration {
      const set = toDiskSet(input);
      trustedHost(set.sourceHostId, "source");
      trustedHost(set.targetHostId, "target");
      const disks = checkDiskSet(set);
      const [first, ...more] = disks as [DiskVolumes, ...DiskVolumes[]];
      const volumes = { sourceHostId: set.sourceHostId, targetHostId: set.targetHostId, disks };
      const job = claimingVolumes(volumes, undefined, () =>
        d.jobs.insert(
          {
            sourceHostId: set.sourceHostId,
            sourceVg: first.sourceVg,
            sourceLv: first.sourceLv,
            targetHostId: set.targetHostId,
            targetVg: first.targetVg,
            targetLv: first.targetLv,
            targetThinPool: first.targetThinPool,
            vm: set.vm,
            ...cutoverColumns(set.cutover),
            options: set.options ?? {},
            createdBy: actor.name,
          },
          more,
        ),
      );
      d.hub.append(job.id, "job.created", { migration: toMigrationEvent(job, d.jobs.disks(job.id)) });
      const audited = set.disks.map((disk) => ({ source: disk.source, target: disk.target }));
      d.audit.record(actor, "migration.create", `job:${job.id}`, {
        sourceHostId: set.sourceHostId,
        targetHostId: set.targetHostId,
        disks: audited,
      });
      d.kick();
      return toMigration(job);
    },

    get(id: number): Migration {
      return toMigration(load(id));
    },

    list(q: MigrationListQuery): Migration[] {
      return d.jobs
        .list({
          state: q.state,
          hostId: q.hostId,
          q: q.q,
          since: q.since,
          overBudget: q.overBudget,
          limit: q.limit ?? 100,
        })
        .map(toMigration);
    },

    /** The chunk map of one disk (default disk 0). */
    chunkMap(id: number, disk = 0): ChunkMap {
      const job = load(id);
      const state = disksOfJob(job, d.jobs.disks(id)).find((x) => x.index === disk)?.state;
      if (!state) throw new NotFoundError(`disk ${disk} of migration`, id);
      const size = state.sizeBytes ?? 0;
      return buildChunkMap(d.chunkMaps.rangesOf(id, disk), size, job.phase, state.liveChangedCells);
    },

    /** Changes the bandwidth limit, also of a copy that is running now; null removes the limit. */
    setBandwidth(id: number, bytesPerSecond: number | null, actor: Actor = SYSTEM): Migration {
      const job = load(id);
      const options = { ...job.options };
      if (bytesPerSecond === null) delete options.bandwidthLimitBytesPerSecond;
      else options.bandwidthLimitBytesPerSecond = bytesPerSecond;
      const row = d.jobs.updateIfState(id, ["queued", "running", "waiting_cutover", ...RETRYABLE_STATES], { options });
      if (!row) throw new ConflictError(`migration ${id} is ${job.state}: nothing to limit`);
      d.updateOptions(id, options);
      d.hub.append(id, "job.log", {
        level: "info",
        message:
          bytesPerSecond === null
            ? "bandwidth limit removed"
            : `bandwidth limit ${humanBytes(bytesPerSecond)}/s (${bytesPerSecond} bytes/s)`,
      });
      d.audit.record(actor, "migration.bandwidth", `job:${id}`, { bytesPerSecond });
      return toMigration(row);
    },

    /**
     * Changes the cutover policy of a migration that has not stopped its VM yet (also a failed or rolled-back one,
     * for its retry); the runner's wait_cutover reads it on its next look.
     */
    setCutoverPolicy(id: number, policy: CutoverPolicy, actor: Actor = SYSTEM): Migration {
      const job = load(id);
      const stopped = job.phase === "stop_vm" && job.phaseState.vmStoppedAt !== undefined;
      const refuse = () =>
        new ConflictError(
          `migration ${id} is ${job.state} in ${job.phase}: its cutover policy can change only until the VM is stopped`,
          { reason: "cutover_under_way" },
        );
      if (stopped) throw refuse();
      const row = d.jobs.updateIfState(id, POLICY_STATES, cutoverColumns(policy), {
        phaseNotIn: POLICY_FIXED_PHASES,
      });
      if (!row) throw refuse();
      d.hub.append(id, "job.log", { level: "info", message: `cutover policy changed: ${JSON.stringify(policy)}` });
      d.audit.record(actor, "migration.cutover_policy", `job:${id}`, { policy });
      return toMigration(row);
    },

    /** Confirms a manual cutover; the runner sees the flag in its wait_cutover phase. */
    cutover(id: number, actor: Actor = SYSTEM): Migration {
      const job = load(id);
      if (job.state !== "waiting_cutover" && job.state !== "running" && job.state !== "queued")
        throw new ConflictError(`migration ${id} is ${job.state}: nothing to cut over`);
      const row = d.jobs.updateIfState(id, ["queued", "running", "waiting_cutover"], { cutoverRequested: true });
      if (!row) throw new ConflictError(`migration ${id} changed state; try again`);
      d.hub.append(id, "job.log", { level: "info", message: "cutover confirmed by operator" });
      d.audit.record(actor, "migration.cutover", `job:${id}`);
      return toMigration(row);
    },

    /**
     * Cancel rolls a migration back (VM restarted on the source if we stopped it, snapshots dropped, the target LV
     * dropped unless kept by removeTargetOnCancel: false) in every phase before start_vm. From start_vm on it is
     * refused with a 409 saying why; a migration that failed in start_vm before the VM started can still be.
     */
    cancel(id: number, actor: Actor = SYSTEM): Migration {
      const job = load(id);
      const refusal = cancelRefusal(job);
      if (refusal === "vm_started") throw pastNoReturn(job, true);
      if (refusal === "past_no_return") throw pastNoReturn(job, false);
      let row: JobRow | undefined;
      if (isRetryable(job.state)) {
        // A failed or rolled-back job has no runner: cancelling it queues the clean-up as a cancelling job.
        row = claimingVolumes(volumesOf(job), id, () =>
          d.jobs.updateIfState(id, RETRYABLE_STATES, { state: "cancelling", cancelRequested: true }),
        );
      } else {
        // Conditional on the phase too: the runner may pass the point of no return between the read and this write.
        row = d.jobs.updateIfState(id, CANCEL_FLAG_STATES, { cancelRequested: true }, { phaseNotIn: NO_RETURN_PHASES });
        const now = row ? null : d.jobs.get(id);
        if (now && isPastNoReturn(now.phase) && now.state !== "failed") throw pastNoReturn(now, false);
      }
      if (!row)
        throw new ConflictError(`migration ${id} is ${d.jobs.get(id)?.state ?? job.state}: it cannot be cancelled`);
      d.hub.append(id, "job.log", { level: "warn", message: "cancel requested by operator" });
      d.audit.record(actor, "migration.cancel", `job:${id}`, { phase: row.phase });
      d.interrupt(id);
      d.kick();
      return toMigration(row);
    },

    /**
     * Re-queues a failed job (it re-enters the phase it failed in, with that phase's stored progress) or a rolled-back
     * one (it starts over at prechecks: its rollback removed the snapshots and target LVs).
     */
    retry(id: number, actor: Actor = SYSTEM): Migration {
      const job = load(id);
      const row = claimingVolumes(volumesOf(job), id, () =>
        d.jobs.updateIfState(id, RETRYABLE_STATES, { state: "queued", error: null, attempt: job.attempt + 1 }),
      );
      if (!row)
        throw new ConflictError(
          `migration ${id} is ${job.state}: only failed or rolled-back migrations can be retried`,
        );
      d.hub.append(id, "job.state", { state: "queued", phase: row.phase, retry: row.attempt });
      d.audit.record(actor, "migration.retry", `job:${id}`, { phase: row.phase });
      d.kick();
      return toMigration(row);
    },
  };
}
export type MigrationService = ReturnType<typeof createMigrationService>;

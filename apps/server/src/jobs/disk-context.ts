import type { EventData, PhaseState } from "@blockferry/contracts";
import type { PhaseContext } from "./context.ts";
import { type DiskVolumes, disksOfJob } from "./migration-disks.ts";
import type { PhaseDeps } from "./phases/shared.ts";

/**
 * What one disk stores of the phase state; the rest (the VM's stop and start, rollbacks, the cutover's wait and
 * prediction, extra passes) belongs to the job, whichever disk a phase acts on.
 */
const DISK_KEYS = [
  "sizeBytes",
  "snapshotGen",
  "snapshotLv",
  "snapshotThinId",
  "originThinId",
  "sourcePool",
  "sourceThin",
  "targetCreated",
  "targetReadsZero",
  "fullCopyDone",
  "fullCopyFallbacks",
  "catchUpDone",
  "passTimings",
  "rotation",
  "pendingChanges",
  "liveChangedCells",
  "finalFull",
  "finalChunkBytes",
  "finalExtents",
  "finalCopiedPass",
  "verifiedPass",
] as const satisfies ReadonlyArray<keyof PhaseState>;
const isDiskKey = (k: string) => (DISK_KEYS as readonly string[]).includes(k);

/**
 * A disk's state for starting over after its copy was removed (a rollback): nothing of it stays but a snapshot
 * generation past every earlier one (their names stay unique) and, when its target LV is still there, that the
 * LV is ours (a retry then reuses it and copies it whole). Every key is named, so it replaces the old state
 * through `save`.
 */
export function startOverDiskState(state: PhaseState, targetLeft: boolean): PhaseState {
  const cleared = Object.fromEntries(DISK_KEYS.map((k) => [k, undefined])) as PhaseState;
  return {
    ...cleared,
    snapshotGen: (state.snapshotGen ?? 1) + 1,
    ...(targetLeft && state.targetCreated && { targetCreated: true }),
  };
}

const pick = (state: PhaseState, disk: boolean): PhaseState =>
  Object.fromEntries(Object.entries(state).filter(([k]) => isDiskKey(k) === disk)) as PhaseState;

/**
 * The contexts of a job's disks, disk 0 first; a one-disk job gets `[ctx]` itself, so it runs exactly as before
 * sets. A disk's context is the job's, with that disk's volumes in the job's VG/LV columns, its own stored
 * progress (disk 0's is the job's phase state, as it always was; the others' their job_disks row), its disk index
 * on the events and progress it reports, and `signal` (when given) for stopping one disk's work with its siblings'.
 */
export function diskContexts(ctx: PhaseContext, deps: Pick<PhaseDeps, "disks">, signal?: AbortSignal): PhaseContext[] {
  const rows = deps.disks?.list(ctx.job.id) ?? [];
  const disks = disksOfJob(ctx.job, rows);
  if (disks.length <= 1) return [ctx];
  return disks.map((d) => diskContext(ctx, deps, d, signal));
}

function diskContext(
  ctx: PhaseContext,
  deps: Pick<PhaseDeps, "disks">,
  disk: DiskVolumes & { state: PhaseState },
  signal?: AbortSignal,
): PhaseContext {
  const names = {
    sourceVg: disk.sourceVg,
    sourceLv: disk.sourceLv,
    targetVg: disk.targetVg,
    targetLv: disk.targetLv,
    targetThinPool: disk.targetThinPool,
  };
  const own = disk.index === 0;
  // Disk 0 shares the job's state object; another disk reads the job's keys as they are now and its own from its row.
  const state: PhaseState = own ? ctx.state : { ...pick(ctx.state, false), ...pick(disk.state, true) };
  const joined = signal ? AbortSignal.any([ctx.signal, signal]) : null;
  return {
    ...ctx,
    get job() {
      return { ...ctx.job, ...names };
    },
    disk: disk.index,
    state,
    get signal() {
      return joined ?? ctx.signal;
    },
    save(patch) {
      if (own) return ctx.save(patch);
      Object.assign(state, patch);
      const forJob = pick(patch, false);
      if (Object.keys(forJob).length) ctx.save(forJob);
      if (Object.keys(pick(patch, true)).length)
        deps.disks?.saveState(ctx.job.id, disk.index, ctx.leaseOwner, pick(state, true));
    },
    log(level, message, details) {
      ctx.log(level, `disk ${disk.index} (${disk.sourceVg}/${disk.sourceLv}): ${message}`, {
        ...details,
        disk: disk.index,
      });
    },
    event(type, data) {
      // The disk is one more field of the phase events that concern one disk (contracts' `disk`).
      ctx.event(type, { ...data, disk: disk.index } as Omit<EventData<typeof type>, "phase">);
    },
    progress(p) {
      ctx.progress({ ...p, disk: disk.index });
    },
    reload() {
      ctx.reload();
      return { ...ctx.job, ...names };
    },
  };
}

import type {
  CreateMigration,
  CreateMigrationBody,
  CreateMigrationSet,
  CreateSingleMigration,
  DiskState,
  MigrationDisk,
  PhaseState,
} from "@blockferry/contracts";
import type { Phase } from "@blockferry/contracts/vocabulary";
import type { JobDiskRow } from "../db/repositories/job-disks.ts";
import type { JobRow } from "../db/repositories/jobs.ts";
import { InvalidInputError } from "../errors.ts";

/** A disk as the phases and the service see it: its index and its LVs on both hosts. */
export interface DiskVolumes {
  index: number;
  sourceVg: string;
  sourceLv: string;
  targetVg: string;
  targetLv: string;
  targetThinPool: string | null;
}

/** The one-disk body from before disk sets, as the set it always meant. */
export function toDiskSet(body: CreateMigration | CreateMigrationBody): CreateMigrationSet {
  const input = body as Partial<CreateMigrationSet & CreateSingleMigration>;
  const set = input.disks !== undefined || input.sourceHostId !== undefined || input.targetHostId !== undefined;
  const single = input.source !== undefined || input.target !== undefined;
  if (
    set === single ||
    (set && !(input.disks && input.sourceHostId && input.targetHostId)) ||
    (single && !(input.source && input.target))
  )
    throw new InvalidInputError(
      "body: give either sourceHostId, targetHostId and disks (a VM's disk set) or source and target (one disk)",
    );
  if (set) return body as CreateMigrationSet;
  const { source, target, ...rest } = body as CreateSingleMigration;
  return {
    ...rest,
    sourceHostId: source.hostId,
    targetHostId: target.hostId,
    disks: [
      {
        source: { vg: source.vg, lv: source.lv },
        target: {
          vg: target.vg,
          ...(target.lv && { lv: target.lv }),
          ...(target.thinPool && { thinPool: target.thinPool }),
        },
      },
    ],
  };
}

/** The set's disks with their target names filled in (an LV keeps its name unless told otherwise). */
export function diskVolumesOf(set: CreateMigrationSet): DiskVolumes[] {
  return set.disks.map((d, index) => ({
    index,
    sourceVg: d.source.vg,
    sourceLv: d.source.lv,
    targetVg: d.target.vg,
    targetLv: d.target.lv ?? d.source.lv,
    targetThinPool: d.target.thinPool ?? null,
  }));
}

/** 400 for a set that names one LV twice, or moves an LV onto itself. */
export function checkDiskSet(set: CreateMigrationSet): DiskVolumes[] {
  const disks = diskVolumesOf(set);
  const seen = { source: new Map<string, number>(), target: new Map<string, number>() };
  for (const d of disks) {
    const source = `${d.sourceVg}/${d.sourceLv}`;
    const target = `${d.targetVg}/${d.targetLv}`;
    if (set.sourceHostId === set.targetHostId && source === target)
      throw new InvalidInputError(`disk ${d.index}: source and target are the same logical volume`);
    for (const [role, lv] of [
      ["source", source],
      ["target", target],
    ] as const) {
      const other = seen[role].get(lv);
      if (other !== undefined)
        throw new InvalidInputError(`disks ${other} and ${d.index} have the same ${role} LV ${lv}`, [
          { instancePath: `/disks/${d.index}/${role}`, keyword: "uniqueLv", message: `${lv} is also disk ${other}` },
        ]);
      seen[role].set(lv, d.index);
    }
  }
  return disks;
}

/** Every disk of a job: disk 0 from the job row (where its progress lives), the others from their rows. */
export function disksOfJob(job: JobRow, rows: readonly JobDiskRow[]): Array<DiskVolumes & { state: PhaseState }> {
  const first = {
    index: 0,
    sourceVg: job.sourceVg,
    sourceLv: job.sourceLv,
    targetVg: job.targetVg,
    targetLv: job.targetLv,
    targetThinPool: job.targetThinPool,
    state: job.phaseState,
  };
  return [first, ...rows.filter((r) => r.index > 0).map((r) => ({ ...r, state: r.phaseState }))];
}

const AFTER_VERIFY = new Set<Phase>(["start_vm", "cleanup", "done"]);
const OUTAGE = new Set<Phase>(["final_delta", "verify"]);

/** Where a disk stands: the job's phase says what the set did, the disk's stored progress how far this one got. */
export function diskStateOf(phase: Phase, s: PhaseState): DiskState {
  if (AFTER_VERIFY.has(phase) || (s.verifiedPass && s.verifiedPass === s.finalCopiedPass)) return "verified";
  if (s.finalCopiedPass && OUTAGE.has(phase)) return "final_copied";
  if (s.fullCopyDone) return "in_sync";
  if (s.snapshotLv && phase !== "prechecks") return "copying";
  return "pending";
}

/** The API view of each disk of a job. */
export function diskViews(job: JobRow, rows: readonly JobDiskRow[]): MigrationDisk[] {
  const counters = new Map(rows.map((r) => [r.index, r]));
  return disksOfJob(job, rows).map((d) => {
    const row = counters.get(d.index);
    const c = d.index === 0 ? job : row;
    return {
      index: d.index,
      source: { vg: d.sourceVg, lv: d.sourceLv },
      target: { vg: d.targetVg, lv: d.targetLv, thinPool: d.targetThinPool },
      sizeBytes: d.state.sizeBytes ? d.state.sizeBytes : null,
      kind: d.state.sourceThin === undefined ? null : d.state.sourceThin ? "thin" : "classic",
      state: diskStateOf(job.phase, d.state),
      bytesTotal: c?.bytesTotal ?? 0,
      bytesDone: c?.bytesDone ?? 0,
      rangesTotal: c?.rangesTotal ?? 0,
      rangesDone: c?.rangesDone ?? 0,
      // Without its row (a view of the job alone), disk 0's removal is the job's.
      sourceRemovedAt: row ? row.sourceRemovedAt : d.index === 0 ? job.sourceDecommissionedAt : null,
      sourceRemovedBy: row ? row.sourceRemovedBy : d.index === 0 ? job.sourceDecommissionedBy : null,
    };
  });
}

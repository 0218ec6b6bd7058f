import { decodeExtentMap, type ExtentMap, encodeExtentMap } from "@blockferry/changes";
import type { PhaseState, StoredChanges } from "@blockferry/contracts";
import type { JobDisksRepo } from "../../db/repositories/job-disks.ts";
import type { JobObjectsRepo } from "../../db/repositories/job-objects.ts";
import type { JobRow } from "../../db/repositories/jobs.ts";
import type { CopyRequest, Mover, PhaseContext, TransferProgress } from "../context.ts";
import { SMALL_RUNS_REASON } from "../data-path.ts";
import { withPassDataPath } from "../data-path-view.ts";
import { devicePath } from "../lvm-ops.ts";
import type { OutageHistory } from "../outage-prediction.ts";
import type { VmCommandLogger } from "../vm/controller.ts";

export interface PhaseDeps {
  mover: Mover;
  objects: Pick<JobObjectsRepo, "record" | "live" | "markRemoved">;
  /** The disks of multi-disk jobs (their names and stored progress); absent: every job is its disk 0 alone. */
  disks?: Pick<JobDisksRepo, "list" | "saveState">;
  /** Forgets every journaled range of a job (its copies were removed), while `leaseOwner` holds its lease. */
  forgetCopies?(jobId: number, leaseOwner: string): void;
  /** Interval of snapshot fill checks while the VM runs. */
  snapshotWatchMs?: number;
  /** Interval of change readings (live changed cells, outage prediction) while the VM runs; default 5 s. */
  changeReadMs?: number;
  /** An earlier migration's outage figures for this job's prediction (outage-history.ts); none: defaults. */
  outageHistory?(job: JobRow): OutageHistory | null;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** Wait before an automatic cutover the gate refused is tried again (default CUTOVER_RETRY_MS). */
  cutoverRetryMs?: number;
  /** The server log, for the operator's VM commands (debug level, redacted): they never go into events. */
  logger?: VmCommandLogger;
}

/** The dashboard's chunk map has at most ~1M cells: a power of two of at least 64 KiB each. */
export function mapChunkBytes(deviceBytes: number): number {
  let cell = 64 * 1024;
  while (deviceBytes / cell > 1 << 20) cell *= 2;
  return cell;
}

export const options = (ctx: PhaseContext) => ctx.job.options;
/** Disk 0 keeps the name snapshots had before sets (reconcile and old jobs know it); disk N adds `-dN`. */
export const snapshotName = (jobId: number, gen: number, disk?: number) =>
  disk ? `bf-${jobId}-d${disk}-s${gen}` : `bf-${jobId}-s${gen}`;
/** Whether `lv` is one of the snapshots of this job's disk (any generation). */
export const isSnapshotOfDisk = (lv: string, jobId: number, disk?: number) =>
  new RegExp(`^bf-${jobId}-${disk ? `d${disk}-` : ""}s\\d+$`).test(lv);
export const sourceDevice = (ctx: PhaseContext) => devicePath(ctx.job.sourceVg, ctx.job.sourceLv);
export const targetDevice = (ctx: PhaseContext) => devicePath(ctx.job.targetVg, ctx.job.targetLv);

export const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });

/** The common part of a copy request: job and its lease, hosts, bandwidth, progress forwarding. */
export function copyRequest(
  ctx: PhaseContext,
  pass: string,
  from: string,
  signal: AbortSignal,
): Omit<CopyRequest, "targetReadsZero"> {
  return {
    jobId: ctx.job.id,
    ...(ctx.disk && { disk: ctx.disk }),
    lease: ctx.leaseOwner,
    pass,
    source: { hostId: ctx.job.sourceHostId, device: from },
    target: { hostId: ctx.job.targetHostId, device: targetDevice(ctx) },
    bandwidthBytesPerSecond: options(ctx).bandwidthLimitBytesPerSecond,
    watchBandwidth: (apply) => ctx.watchOptions((o) => apply(o.bandwidthLimitBytesPerSecond ?? null)),
    compress: options(ctx).compress,
    dataPath: options(ctx).dataPath ?? "auto",
    onDataPath: (ran, reason) => {
      ctx.save({ dataPaths: withPassDataPath(ctx.state.dataPaths, { pass, ran, ...(reason && { reason }) }) });
      // Small runs on the relay are auto's plan, not a fallback: no warning.
      const level = reason && reason !== SMALL_RUNS_REASON ? "warn" : "info";
      ctx.log(level, `${pass}: data path ${ran}${reason ? ` (${reason})` : ""}`, { dataPath: ran });
    },
    onLinkLost: (message) => ctx.log("warn", `${pass}: ${message}`),
    mapChunkBytes: mapChunkBytes(ctx.state.sizeBytes ?? 0),
    signal,
    // Live only: the journal stores the counters with the ranges they count. The pass names which copy they count.
    onProgress: (p: TransferProgress) => ctx.progress({ ...p, pass }),
  };
}

export type { StoredChanges } from "@blockferry/contracts";

/** What the snapshot phase stored about a thin source; an error naming the gap when it is incomplete. */
export function storedThin(state: PhaseState): { pool: string; snapshotThinId: number; originThinId: number } {
  const { sourcePool, snapshotThinId, originThinId } = state;
  if (!sourcePool || typeof snapshotThinId !== "number" || typeof originThinId !== "number")
    throw new Error("the stored phase state of this thin source lacks its pool or thin ids");
  return { pool: sourcePool, snapshotThinId, originThinId };
}
export const storeChanges = (pass: string, chunkBytes: number, extents: ExtentMap): StoredChanges => ({
  pass,
  chunkBytes,
  extents: Buffer.from(encodeExtentMap(extents)).toString("base64"),
});
export const loadChanges = (s: StoredChanges) => ({
  chunkBytes: s.chunkBytes,
  extents: decodeExtentMap(Buffer.from(s.extents, "base64")),
});

/** Adds a pass's measurement to the stored ones (the latest few: the prediction's throughput and per-run cost). */
export const withTiming = (state: PhaseState, t: NonNullable<PhaseState["passTimings"]>[number]) => [
  ...(state.passTimings ?? []).filter((p) => p.pass !== t.pass).slice(-9),
  t,
];

import { decodeExtentMap, type ExtentMap, encodeExtentMap } from "@blockferry/changes";
import type { MigrationOptions } from "@blockferry/contracts";
import type { JobObjectsRepo } from "../../db/repositories/job-objects.ts";
import type { CopyRequest, Mover, PhaseContext, TransferProgress } from "../context.ts";
import { devicePath } from "../lvm-ops.ts";

export interface PhaseDeps {
  mover: Mover;
  objects: Pick<JobObjectsRepo, "record" | "live" | "markRemoved">;
  /** Interval of snapshot fill checks while the VM runs. */
  snapshotWatchMs?: number;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
  /** Wait before an automatic cutover the gate refused is tried again (default CUTOVER_RETRY_MS). */
  cutoverRetryMs?: number;
}

/** The dashboard's chunk map has at most ~1M cells: a power of two of at least 64 KiB each. */
export function mapChunkBytes(deviceBytes: number): number {
  let cell = 64 * 1024;
  while (deviceBytes / cell > 1 << 20) cell *= 2;
  return cell;
}

export const options = (ctx: PhaseContext) => ctx.job.options as MigrationOptions;
export const snapshotName = (jobId: number, gen: number) => `bf-${jobId}-s${gen}`;
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

/** The common part of a copy request: job, hosts, bandwidth, progress forwarding. */
export function copyRequest(
  ctx: PhaseContext,
  pass: string,
  from: string,
  signal: AbortSignal,
): Omit<CopyRequest, "targetReadsZero"> {
  return {
    jobId: ctx.job.id,
    pass,
    source: { hostId: ctx.job.sourceHostId, device: from },
    target: { hostId: ctx.job.targetHostId, device: targetDevice(ctx) },
    bandwidthBytesPerSecond: options(ctx).bandwidthLimitBytesPerSecond,
    compress: options(ctx).compress,
    mapChunkBytes: mapChunkBytes(ctx.state.sizeBytes ?? 0),
    signal,
    onProgress(p: TransferProgress) {
      ctx.progress(p);
      ctx.saveJob({
        bytesDone: p.bytesDone,
        bytesTotal: p.bytesTotal,
        rangesDone: p.rangesDone,
        rangesTotal: p.rangesTotal,
      });
    },
  };
}

/**
 * A pass's change list, stored before its copy starts: a re-run after a crash must copy exactly the ranges
 * its journal planned, even though the snapshot has recorded more since.
 */
export interface StoredChanges {
  pass: string;
  chunkBytes: number;
  extents: string;
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

import { type ExtentMap, ExtentMapBuilder } from "@blockferry/changes";
import type { TransferJournal } from "../db/repositories/transfer-journal.ts";
import type { RemoteHosts } from "../hosts/index.ts";
import type { DirectPath } from "../transfer/direct/batch.ts";
import { copyExtents, copyFull } from "../transfer/engine.ts";
import { transferHostOf } from "../transfer/host.ts";
import { extentRanges, fullRanges } from "../transfer/plan.ts";
import { RateLimiter } from "../transfer/rate-limiter.ts";
import { verifyRanges } from "../transfer/verify.ts";
import type { CopyRequest, CopySummary, Mover } from "./context.ts";
import { type DataPathDeps, openDataPath } from "./data-path.ts";

/**
 * How long a copy rides out a lost connection before the job fails: a network that drops for a minute (a switch
 * rebooting) resumes the copy by itself, while a host that is gone fails it within two minutes.
 */
const TRANSIENT_WINDOW_MS = 120_000;

/**
 * The transfer engine behind the phases' Mover: host connections from the connection manager, the SQLite
 * journal, and a rate limiter per copy that follows the job's limit, so a change applies to the copy already running.
 */
export function createTransferMover(
  remote: RemoteHosts,
  journal: TransferJournal,
  dataPaths?: Omit<DataPathDeps, "remote">,
) {
  // One limiter per copy, following the job's limit while it runs (the runner tells the job of changes); the
  // data path is set up per copy and its access removed when the copy ends, however it ends.
  const withLimiter = async (
    o: CopyRequest,
    copy: (limiter: RateLimiter, direct: DirectPath | undefined) => Promise<CopySummary>,
  ): Promise<CopySummary> => {
    const limiter = new RateLimiter(o.bandwidthBytesPerSecond ?? null);
    const unwatch = o.watchBandwidth?.((bytesPerSecond) => limiter.set(bytesPerSecond));
    const path =
      dataPaths && o.dataPath && o.dataPath !== "relay"
        ? await openDataPath(
            { ...dataPaths, remote },
            {
              jobId: o.jobId,
              dataPath: o.dataPath,
              sourceHostId: o.source.hostId,
              targetHostId: o.target.hostId,
              targetDevice: o.target.device,
            },
          )
        : null;
    if (path) o.onDataPath?.(path.ran, path.reason);
    let outcome = "failed";
    try {
      const r = await copy(limiter, path?.direct);
      outcome = "copied";
      return {
        dataPath: path?.ran ?? "relay",
        rangesTotal: r.rangesTotal,
        rangesAlreadyDone: r.rangesAlreadyDone,
        bytesRead: r.bytesRead,
        bytesSent: r.bytesSent,
      };
    } finally {
      unwatch?.();
      await path?.close(o.signal.aborted ? "cancelled" : outcome);
    }
  };
  const common = (o: CopyRequest, bandwidth: RateLimiter, direct: DirectPath | undefined) => ({
    source: { host: transferHostOf(remote.connection(o.source.hostId)), device: o.source.device },
    target: { host: transferHostOf(remote.connection(o.target.hostId)), device: o.target.device },
    journal: journal.leased(o.lease),
    jobId: o.jobId,
    pass: o.pass,
    signal: o.signal,
    onProgress: o.onProgress,
    bandwidth,
    compress: o.compress,
    transientWindowMs: TRANSIENT_WINDOW_MS,
    direct,
  });

  const mover: Mover = {
    copyFull(o) {
      return withLimiter(o, (limiter, direct) =>
        copyFull({
          ...common(o, limiter, direct),
          bytes: o.bytes,
          targetReadsZero: o.targetReadsZero,
          mapChunkBytes: o.mapChunkBytes,
        }),
      );
    },
    copyExtents(o) {
      return withLimiter(o, (limiter, direct) =>
        copyExtents({
          ...common(o, limiter, direct),
          extents: closeGaps(o.extents, Math.floor(GAP_BYTES / o.chunkBytes)),
          chunkBytes: o.chunkBytes,
          deviceBytes: o.deviceBytes,
          // The engine reports runs in extent chunks; the dashboard's map has its own cell size.
          onProgress: (p) =>
            o.onProgress({
              ...p,
              doneRuns: p.doneRuns && toMapRuns(p.doneRuns, o.chunkBytes, o.mapChunkBytes),
              inFlightRuns: p.inFlightRuns && toMapRuns(p.inFlightRuns, o.chunkBytes, o.mapChunkBytes),
            }),
        }),
      );
    },
    verify(o) {
      return verifyRanges({
        source: { host: transferHostOf(remote.connection(o.source.hostId)), device: o.source.device },
        target: { host: transferHostOf(remote.connection(o.target.hostId)), device: o.target.device },
        ranges: o.extents
          ? extentRanges(o.extents.map, o.extents.chunkBytes, o.deviceBytes, VERIFY_RANGE_BYTES)
          : fullRanges(o.deviceBytes, VERIFY_RANGE_BYTES),
        signal: o.signal,
      });
    },
  };
  return mover;
}

/** Longest range a verify reads as one (a dd batch holds many). */
const VERIFY_RANGE_BYTES = 64 << 20;

/**
 * Unchanged chunks between two changed runs hold the same bytes on both sides, so sending them again is harmless.
 * Small runs go over SFTP at the cost of a request each, and a gap closed there costs its bytes three times (read,
 * write, read-back), so only gaps of about one chunk are worth closing: between two long (dd) runs they still save
 * the processes of a run. Loopback, 10% of 64 KiB chunks of 1 GiB changed: 1.2-1.6 s with 64 KiB, 5.6-6.0 s with
 * 1 MiB (600 MB sent instead of 107, in runs long enough for dd).
 */
const GAP_BYTES = 64 << 10;

export function closeGaps(extents: ExtentMap, maxGapChunks: number): ExtentMap {
  if (maxGapChunks <= 0) return extents;
  const b = new ExtentMapBuilder();
  let start = -1;
  let end = -1;
  extents.forEachRun((first, count) => {
    if (start >= 0 && first - end <= maxGapChunks) end = first + count;
    else {
      if (start >= 0) b.add(start, end - start);
      start = first;
      end = first + count;
    }
  });
  if (start >= 0) b.add(start, end - start);
  return b.build();
}

/** Chunk runs in one unit as runs of (covering) cells of another. */
export function toMapRuns(runs: ReadonlyArray<readonly [number, number]>, fromBytes: number, toBytes: number) {
  return runs.map(([first, count]): [number, number] => {
    const start = Math.floor((first * fromBytes) / toBytes);
    const end = Math.ceil(((first + count) * fromBytes) / toBytes);
    return [start, end - start];
  });
}

import { type ExtentMap, ExtentMapBuilder } from "@blockferry/changes";
import type { DataPath } from "@blockferry/contracts";
import type { TransferJournal } from "../db/repositories/transfer-journal.ts";
import type { RemoteHosts } from "../hosts/index.ts";
import type { DirectPath } from "../transfer/direct/batch.ts";
import { copyExtents, copyFull } from "../transfer/engine.ts";
import { DirectLinkError } from "../transfer/errors.ts";
import { transferHostOf } from "../transfer/host.ts";
import { extentRanges, fullRanges } from "../transfer/plan.ts";
import { RateLimiter } from "../transfer/rate-limiter.ts";
import { verifyRanges } from "../transfer/verify.ts";
import type { CopyRequest, CopySummary, Mover } from "./context.ts";
import {
  type DataPathDeps,
  hostQueue,
  type OpenedPath,
  openDataPath,
  relayForSmallRuns,
  relayPath,
} from "./data-path.ts";
import { afterLinkLoss } from "./link-loss.ts";
import { abortableSleep } from "./phases/shared.ts";

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
  dataPaths?: Omit<DataPathDeps, "remote" | "accessEdits">,
) {
  // Every copy of this server grants and revokes through one queue per host (a set's disks do it at once).
  const accessEdits = hostQueue();
  // One limiter per copy, following the job's limit while it runs (the runner tells the job of changes); the
  // data path is set up per copy and its access removed when the copy ends, however it ends.
  // `relayBecause`: auto's choice made before any host is asked (small extent runs): no probe, no key grant.
  const withLimiter = async <R extends CopyRequest>(
    o: R,
    copy: (o: R, limiter: RateLimiter, direct: DirectPath | undefined) => Promise<CopySummary>,
    relayBecause: string | null = null,
  ): Promise<CopySummary> => {
    const limiter = new RateLimiter(o.bandwidthBytesPerSecond ?? null);
    const unwatch = o.watchBandwidth?.((bytesPerSecond) => limiter.set(bytesPerSecond));
    const wanted = o.dataPath ?? "auto";
    const open = (dataPath: DataPath) =>
      openDataPath(
        { ...(dataPaths as Omit<DataPathDeps, "remote" | "accessEdits">), remote, accessEdits },
        {
          jobId: o.jobId,
          disk: o.disk,
          dataPath,
          sourceHostId: o.source.hostId,
          targetHostId: o.target.hostId,
          targetDevice: o.target.device,
        },
      );
    let path: OpenedPath | null =
      !dataPaths || wanted === "relay" ? null : relayBecause ? relayPath(relayBecause) : await open(wanted);
    if (path) o.onDataPath?.(path.ran, path.reason);
    // Ranges the journal holds confirmed, as the engine last reported: a loss after progress starts a new streak.
    let rangesDone = 0;
    const request: R = {
      ...o,
      onProgress: (p) => {
        rangesDone = p.rangesDone;
        o.onProgress(p);
      },
    };
    let streak: { since: number; tries: number; rangesDone: number } | null = null;
    let outcome = "failed";
    try {
      for (;;) {
        try {
          const r = await copy(request, limiter, path?.direct);
          outcome = "copied";
          return {
            dataPath: path?.ran ?? "relay",
            rangesTotal: r.rangesTotal,
            rangesAlreadyDone: r.rangesAlreadyDone,
            bytesRead: r.bytesRead,
            bytesSent: r.bytesSent,
          };
        } catch (error) {
          if (!(error instanceof DirectLinkError) || !path?.direct || wanted === "relay" || o.signal.aborted)
            throw error;
          if (streak && rangesDone > streak.rangesDone) streak = null;
          streak ??= { since: Date.now(), tries: 0, rangesDone };
          streak.rangesDone = rangesDone;
          const link = path.link ?? "from the source to the target";
          o.onLinkLost?.(`direct link ${link} lost (${error.message}): re-opening it`);
          // The old key goes before a new one is made; the journal keeps what the lost batches had confirmed.
          await path.close("direct link lost").catch(() => undefined);
          path = null;
          for (;;) {
            let reopened: OpenedPath | null = null;
            let reopenError: string | undefined;
            try {
              reopened = await open("direct");
            } catch (e) {
              reopenError = e instanceof Error ? e.message : String(e);
            }
            const step = afterLinkLoss({
              mode: wanted,
              link,
              lost: error.message,
              lostForMs: Date.now() - streak.since,
              windowMs: TRANSIENT_WINDOW_MS,
              tries: streak.tries++,
              reopenError,
            });
            if (step.next === "direct") {
              path = reopened;
              o.onDataPath?.("direct", "re-opened after the link was lost; the journal keeps what was confirmed");
              break;
            }
            await reopened?.close("direct link kept failing").catch(() => undefined);
            if (step.next === "relay") {
              path = relayPath(step.reason);
              o.onDataPath?.("relay", step.reason);
              break;
            }
            if (step.next === "fail") throw step.error;
            await abortableSleep(step.ms, o.signal);
          }
        }
      }
    } finally {
      unwatch?.();
      await path?.close(o.signal.aborted ? "cancelled" : outcome);
    }
  };
  const common = (o: CopyRequest, bandwidth: RateLimiter, direct: DirectPath | undefined) => ({
    source: { host: transferHostOf(remote.connection(o.source.hostId)), device: o.source.device },
    target: { host: transferHostOf(remote.connection(o.target.hostId)), device: o.target.device },
    journal: journal.leased(o.lease),
    jobId: o.disk ? { jobId: o.jobId, disk: o.disk } : o.jobId,
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
      return withLimiter(o, (o, limiter, direct) =>
        copyFull({
          ...common(o, limiter, direct),
          bytes: o.bytes,
          targetReadsZero: o.targetReadsZero,
          mapChunkBytes: o.mapChunkBytes,
        }),
      );
    },
    copyExtents(o) {
      const extents = closeGaps(o.extents, Math.floor(GAP_BYTES / o.chunkBytes));
      return withLimiter(
        o,
        (o, limiter, direct) =>
          copyExtents({
            ...common(o, limiter, direct),
            extents,
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
        relayForSmallRuns(o.dataPath ?? "auto", extents, o.chunkBytes),
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

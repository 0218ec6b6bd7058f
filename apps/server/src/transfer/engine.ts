// The transfer engine: moves ranges from a source device to a target device through this server, one exec per
// host per batch, and confirms a range only after the target read its bytes back from the device (direct I/O,
// after fsync) and the hash matched what the source sent. See README in this folder for the design.
import { createHash } from "node:crypto";
import {
  HASH_TOOLS,
  type HashTool,
  MAX_RUNS_PER_COMMAND,
  readRunsCommand,
  receiveRecordsCommand,
  zeroScanCommand,
} from "@blockferry/lvm";
import type { JournalDisk, JournalRange, TransferJournal } from "../db/repositories/transfer-journal.ts";
import { ConnectionLostError, HostUnreachableError } from "../hosts/index.ts";
import { type DirectPath, directBatch } from "./direct/batch.ts";
import { RemoteOutputError, TruncatedStreamError, VerifyMismatchError } from "./errors.ts";
import { probeHashTool } from "./hash-tool.ts";
import type { RemoteProcess, TransferHost } from "./host.ts";
import { type ByteRun, batchRanges, type ChunkRuns, coalesce, extentRanges, fullRanges } from "./plan.ts";
import { eachWithLimit } from "./pool.ts";
import { start, startBoth, withProcesses } from "./processes.ts";
import { ProgressTracker, type TransferProgress } from "./progress.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import { pumpRecords, type Segment } from "./records.ts";
import { incoming, readAllText } from "./relay.ts";
import { copyRunsOverSftp, extentBatches, meanRunBytes, SFTP_BATCH_BYTES, SFTP_RUN_BYTES } from "./sftp-batch.ts";

const MiB = 1 << 20;
/** How often a running pass reports progress between confirms. */
const PROGRESS_TICK_MS = 500;

export interface TransferEndpoint {
  host: TransferHost;
  /** Block device (or a file standing in for one); validated again by the command templates. */
  device: string;
}

export interface CommonCopyOptions {
  source: TransferEndpoint;
  target: TransferEndpoint;
  journal: Pick<TransferJournal, "plan" | "confirm">;
  /** Whose journal rows: the job (its disk 0) or one disk of its set. */
  jobId: JournalDisk;
  /** Journal pass name: "full", "catchup-1", "final", ... */
  pass: string;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
  /**
   * gzip -1 on the source, inflated in the server: pays off on a link slower than gzip (~50-100 MB/s per
   * source core) carrying compressible data; it also keeps zero blocks off that link without a scan.
   */
  compress?: boolean;
  /** Shared limiter (bytes on the wire); call `.set(bytesPerSecond | null)` on it at any time. */
  bandwidth?: RateLimiter;
  /** Batches in flight at once (each is one exec per host). Default 3. */
  concurrency?: number;
  /** Upper bound of one batch (one exec per host). Default: full copy one range, extents 64 MiB. */
  batchBytes?: number;
  /** Attempts per batch when the read-back hash does not match. Default 2. */
  maxAttempts?: number;
  /** Extra attempts per batch after a lost channel or connection. Default 1. */
  transientRetries?: number;
  /**
   * Beyond those, a batch keeps trying again (waiting longer each time, up to 5 s) while its first lost
   * connection is less than this long ago: a network that drops for a while then resumes the copy by itself.
   * Default 0 (no window).
   */
  transientWindowMs?: number;
  /**
   * Direct data plane: the source streams straight to the target over its own SSH connection (direct/), the
   * server paces it and compares both hosts' hashes. Absent: every byte is relayed through this server.
   */
  direct?: DirectPath;
}

export interface FullCopyOptions extends CommonCopyOptions {
  /** Device size in bytes (multiple of 512). */
  bytes: number;
  /** Journal granularity. Default 64 MiB; a multiple of blockBytes. */
  rangeBytes?: number;
  /**
   * "detect" (default): the server checks each block it receives and sends all-zero blocks as zero records
   * (written from /dev/zero on the target, or skipped when `targetReadsZero`): they never reach the target.
   * "scan": the source first reports which blocks are all zero (`cmp` against /dev/zero, one process per
   * block) and never sends them at all: for a slow source link. "send": every byte is streamed.
   */
  zeroes?: "detect" | "scan" | "send";
  /** Block size of zero detection. Default 4 MiB. */
  blockBytes?: number;
  /** The target reads zeroes where never written (fresh thin LV): zero blocks cost nothing at all. */
  targetReadsZero?: boolean;
  /** Unit of progress `doneRuns`. Default blockBytes. */
  mapChunkBytes?: number;
}

export interface ExtentCopyOptions extends CommonCopyOptions {
  extents: ChunkRuns;
  chunkBytes: number;
  /** Device size: a last chunk reaching past it is clamped. */
  deviceBytes: number;
  /** Longest journal range. Default 16 MiB. */
  rangeBytes?: number;
  /** Most separate runs in one batch (one dd per run on each host). Default 64. */
  batchRuns?: number;
  /**
   * Runs shorter than this go over SFTP, many per batch and no process per run (see sftp-batch.ts); longer runs
   * are streamed through dd. Default 1 MiB; 0 sends everything through dd.
   */
  sftpRunBytes?: number;
  /** Upper bound of one SFTP batch. Default 16 MiB. */
  sftpBatchBytes?: number;
}

export interface TransferResult {
  rangesTotal: number;
  /** Ranges already confirmed by an earlier run (resume): neither sent nor written again. */
  rangesAlreadyDone: number;
  rangesConfirmed: number;
  /** Bytes read from the source (source to server), retries included. */
  bytesRead: number;
  /** What those cost on the source link: less than bytesRead when compressed. */
  bytesOnWire: number;
  /** Data bytes sent on to the target (server to target), retries included. */
  bytesSent: number;
  /** Bytes written on the target from /dev/zero. */
  bytesZeroed: number;
  /** Zero bytes neither sent nor written (target known to read zeroes). */
  bytesSkipped: number;
  /** Batches sent again after a read-back mismatch. */
  retries: number;
  seconds: number;
}

interface Ctx extends CommonCopyOptions {
  tracker: ProgressTracker;
  result: TransferResult;
  /** The target's read-back hash, probed once per copy by the first record batch (SFTP batches need none). */
  hashTool(): Promise<HashTool>;
}

const zeroHashes = new Map<number, string>();
/** `b2sum` of `length` zero bytes (BLAKE2b-512, as OpenSSL names it). */
export function zeroBlockHash(length: number): string {
  let h = zeroHashes.get(length);
  if (!h) {
    h = createHash("blake2b512").update(Buffer.alloc(length)).digest("hex");
    zeroHashes.set(length, h);
  }
  return h;
}

/** Failures worth one more try: the transport, not the data or our own commands. */
/** Resolves after `ms`, or rejects with the signal's reason once it aborts. */
function waitOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function isTransient(e: unknown): boolean {
  return e instanceof ConnectionLostError || e instanceof HostUnreachableError || e instanceof TruncatedStreamError;
}

/**
 * Longest data record when zeroes are not detected (detected ones are one record per block): each record costs
 * the target one `dd`, and records stream, so nothing of this size is held. Growing records over blocks that
 * stay data was tried and dropped: a zero block inside a record must then be sent (~24 ms of relay per 4 MiB
 * here) to save a `dd` (~1.5 ms).
 */
const MAX_RECORD_BYTES = 32 * MiB;

interface BatchPlan {
  segments: Segment[];
  detectZeroes: boolean;
  skipZeroes: boolean;
  blockBytes: number;
}

/**
 * One batch, one exec per host: the source streams the segments to read, the server hashes what arrives and
 * turns it into records, the target writes them, fsyncs, and reads back with direct I/O: one hash line (the
 * target's hash tool) over the data, which must equal the server's hash, and a `z` line per zero record.
 * Returns the hash to journal, or null when the read-back differs.
 */
async function recordBatch(
  ctx: Ctx,
  plan: BatchPlan,
  signal: AbortSignal,
  onRead: (bytes: number) => void,
): Promise<string | null> {
  const toolName = await ctx.hashTool();
  const tool = HASH_TOOLS[toolName];
  const reads = coalesce(plan.segments.filter((s) => s.source === "read").map((s) => [s.offset, s.length] as const));
  const sent = await withProcesses(signal, async (sig, started) => {
    const receive: [TransferHost, string] = [
      ctx.target.host,
      receiveRecordsCommand({ device: ctx.target.device, hash: toolName }),
    ];
    let src: RemoteProcess | null = null;
    let dst: RemoteProcess;
    if (reads.length) {
      [src, dst] = await startBoth(
        sig,
        started,
        [ctx.source.host, readRunsCommand({ device: ctx.source.device, runs: reads, gzip: ctx.compress })],
        receive,
      );
      src.stdin.end();
    } else dst = await start(receive[0], receive[1], sig, started);
    const [result, , , out] = await Promise.all([
      pumpRecords(
        ctx.source.host.name,
        src &&
          incoming(src.stdout, {
            limiter: ctx.bandwidth,
            gzip: ctx.compress ?? false,
            signal: sig,
            onWire: (n) => {
              ctx.result.bytesOnWire += n;
            },
          }),
        dst.stdin,
        plan.segments,
        { ...plan, maxRecordBytes: MAX_RECORD_BYTES, hashAlgorithm: tool.node, onRead },
        sig,
      ),
      src?.done,
      dst.done,
      readAllText(dst.stdout),
    ]);
    return { result, out };
  });
  const { result, out } = sent;
  const r = ctx.result;
  r.bytesSent += result.bytesSent;
  r.bytesRead += result.bytesRead;
  r.bytesZeroed += result.bytesZeroed;
  r.bytesSkipped += result.bytesSkipped;
  const lines = out.split("\n").filter((l) => l.length > 0);
  const want = (result.hash ? 1 : 0) + result.zeroRuns.length;
  if (lines.length !== want || (result.hash && !tool.line.test(lines[0] ?? "")))
    throw new RemoteOutputError(
      `${ctx.target.host.name} read-back: expected ${want} lines, got ${JSON.stringify(out.slice(0, 300))}`,
    );
  const hashOk = result.hash === null || tool.line.exec(lines[0] ?? "")?.[1] === result.hash;
  const zerosOk = lines.slice(result.hash ? 1 : 0).every((l) => l === "z");
  return hashOk && zerosOk ? (result.hash ?? zeroBlockHash(0)) : null;
}

interface FullCtx extends Ctx {
  blockBytes: number;
  targetReadsZero: boolean;
  zeroes: "detect" | "scan" | "send";
}

function blocksOf([offset, length]: ByteRun, blockBytes: number): ByteRun[] {
  const out: ByteRun[] = [];
  for (let o = offset; o < offset + length; o += blockBytes) out.push([o, Math.min(blockBytes, offset + length - o)]);
  return out;
}

/** The source's zero scan of a span: one `z`/`d` line per block; zero blocks become segments not to read. */
async function scanSegments(ctx: FullCtx, span: ByteRun, signal: AbortSignal): Promise<Segment[]> {
  const blocks = blocksOf(span, ctx.blockBytes);
  const flags = await withProcesses(signal, async (sig, started) => {
    const p = await start(
      ctx.source.host,
      zeroScanCommand({ device: ctx.source.device, span, blockBytes: ctx.blockBytes }),
      sig,
      started,
    );
    p.stdin.end();
    const [out] = await Promise.all([readAllText(p.stdout), p.done]);
    const lines = out.split("\n").filter((l) => l.length > 0);
    if (lines.length !== blocks.length || lines.some((l) => l !== "z" && l !== "d"))
      throw new RemoteOutputError(
        `${ctx.source.host.name} zero scan: expected ${blocks.length} z/d lines, got ${JSON.stringify(out.slice(0, 200))}`,
      );
    return lines;
  });
  const segments: Segment[] = [];
  blocks.forEach(([offset, length], i) => {
    const source = flags[i] === "z" ? "zero" : "read";
    const last = segments[segments.length - 1];
    if (last && last.source === source && last.offset + last.length === offset) last.length += length;
    else segments.push({ offset, length, source });
  });
  return segments;
}

async function fullBatch(
  ctx: FullCtx,
  batch: readonly JournalRange[],
  signal: AbortSignal,
  onRead: (bytes: number) => void,
): Promise<string | null> {
  const runs = coalesce(batch.map((r) => [r.offset, r.length] as const));
  if (ctx.direct)
    return directBatch(
      {
        source: ctx.source,
        path: ctx.direct,
        runs,
        blockBytes: ctx.blockBytes,
        zeroes: ctx.zeroes !== "send",
        skipZeroes: ctx.targetReadsZero,
        bandwidth: ctx.bandwidth,
        onRead,
      },
      signal,
      ctx.result,
    );
  const segments: Segment[] =
    ctx.zeroes === "scan" && runs.length === 1
      ? await scanSegments(ctx, runs[0] as ByteRun, signal)
      : runs.map(([offset, length]) => ({ offset, length, source: "read" }));
  return recordBatch(
    ctx,
    { segments, detectZeroes: ctx.zeroes !== "send", skipZeroes: ctx.targetReadsZero, blockBytes: ctx.blockBytes },
    signal,
    onRead,
  );
}

/** Changed runs: read and sent as they are; a chunk that became all zero is written from /dev/zero instead. */
function extentBatch(
  ctx: Ctx,
  batch: readonly JournalRange[],
  signal: AbortSignal,
  onRead: (bytes: number) => void,
): Promise<string | null> {
  const runs = coalesce(batch.map((r) => [r.offset, r.length] as const));
  // Direct: changed runs are sent as they are (a zero check would read each of them twice).
  if (ctx.direct)
    return directBatch(
      {
        source: ctx.source,
        path: ctx.direct,
        runs,
        blockBytes: 4 * MiB,
        zeroes: false,
        skipZeroes: false,
        bandwidth: ctx.bandwidth,
        onRead,
      },
      signal,
      ctx.result,
    );
  const segments = runs.map(([offset, length]): Segment => ({ offset, length, source: "read" }));
  return recordBatch(ctx, { segments, detectZeroes: true, skipZeroes: false, blockBytes: 4 * MiB }, signal, onRead);
}

async function runPass(
  opts: CommonCopyOptions,
  planned: readonly ByteRun[],
  mapChunkBytes: number,
  batchOf: (rows: JournalRange[]) => JournalRange[][],
  copyBatch: (
    ctx: Ctx,
    batch: JournalRange[],
    signal: AbortSignal,
    onRead: (bytes: number) => void,
  ) => Promise<string | null>,
  extend: (ctx: Ctx) => Ctx = (c) => c,
): Promise<TransferResult> {
  const t0 = performance.now();
  opts.signal?.throwIfAborted();
  const rows = opts.journal.plan(opts.jobId, opts.pass, planned);
  const done = rows.filter((r) => r.confirmed);
  const tracker = new ProgressTracker(
    done.reduce((a, r) => a + r.length, 0),
    rows.reduce((a, r) => a + r.length, 0),
    done.length,
    rows.length,
    mapChunkBytes,
    // Compressed, the limit counts fewer bytes than stream through: it bounds no rate measured here.
    { limitBytesPerSecond: () => (opts.compress ? null : (opts.bandwidth?.bytesPerSecond ?? null)) },
  );
  const result: TransferResult = {
    rangesTotal: rows.length,
    rangesAlreadyDone: done.length,
    rangesConfirmed: 0,
    bytesRead: 0,
    bytesOnWire: 0,
    bytesSent: 0,
    bytesZeroed: 0,
    bytesSkipped: 0,
    retries: 0,
    seconds: 0,
  };
  let probe: Promise<HashTool> | null = null;
  const hashTool = () => {
    probe ??= probeHashTool(opts.target.host, opts.signal).catch((e: unknown) => {
      probe = null; // a lost connection: the batch's retry probes again
      throw e;
    });
    return probe;
  };
  const ctx = extend({ ...opts, tracker, result, hashTool });
  opts.onProgress?.(tracker.snapshot());
  // Confirms come per batch (a whole range of a full copy): between them, report what streams every half second.
  const ticker = opts.onProgress && setInterval(() => opts.onProgress?.(tracker.snapshot()), PROGRESS_TICK_MS);
  const maxAttempts = opts.maxAttempts ?? 2;
  try {
    await eachWithLimit(batchOf(rows), opts.concurrency ?? 3, opts.signal, async (batch, _i, signal) => {
      let transient = 0;
      let firstLostAt: number | null = null;
      const ranges = batch.map((r) => [r.offset, r.length] as const);
      for (let attempt = 1; ; attempt++) {
        let hash: string | null;
        const flight = tracker.begin(ranges);
        try {
          hash = await copyBatch(ctx, batch, signal, (n) => tracker.streamed(flight, n));
        } catch (e) {
          tracker.end(flight);
          // A dropped channel or connection: try the batch again (the hosts layer reconnects); a second
          // failure ends the run, and the journal lets the next run resume.
          if (signal.aborted || !isTransient(e)) throw e;
          firstLostAt ??= Date.now();
          const extra = transient - (opts.transientRetries ?? 1);
          if (extra >= 0) {
            if (Date.now() - firstLostAt >= (opts.transientWindowMs ?? 0)) throw e;
            await waitOrAbort(Math.min(5000, 500 * 2 ** extra), signal);
          }
          transient++;
          result.retries++;
          attempt--;
          continue;
        }
        tracker.end(flight);
        if (hash !== null) {
          signal.throwIfAborted();
          opts.journal.confirm(
            opts.jobId,
            opts.pass,
            batch.map((r) => ({ offset: r.offset, hash })),
          );
          result.rangesConfirmed += batch.length;
          opts.onProgress?.(tracker.confirmed(ranges));
          return;
        }
        const first = batch[0] as JournalRange;
        const last = batch[batch.length - 1] as JournalRange;
        if (attempt >= maxAttempts)
          throw new VerifyMismatchError(
            first.offset,
            last.offset + last.length - first.offset,
            `target read-back differs from what the source sent, ${attempt} attempts`,
          );
        result.retries++;
      }
    });
  } catch (e) {
    // Batches still settling are dropped: the page must not keep showing them in flight.
    opts.onProgress?.({ ...tracker.snapshot(), bytesStreamed: 0, inFlightRuns: [] });
    throw e;
  } finally {
    if (ticker) clearInterval(ticker);
  }
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

function checkCommon(o: CommonCopyOptions): void {
  if (o.concurrency !== undefined && !(Number.isInteger(o.concurrency) && o.concurrency >= 1))
    throw new RangeError("concurrency must be a positive integer");
}

/** Smallest direct full-copy batch, and the batch under a bandwidth limit. */
export const DIRECT_BATCH_BYTES = 512 * MiB;
/** Largest direct full-copy batch without a bandwidth limit. */
export const DIRECT_MAX_BATCH_BYTES = 2048 * MiB;

/**
 * A direct batch is one new OpenSSH connection from the source (its key exchange: ~0.125 s of CPU there) and
 * processes on both hosts, so its batches are far bigger than the relay's: 512 MiB, or without a bandwidth limit
 * the copy split over the batches in flight (1 to `concurrency` batches for most volumes), up to 2 GiB. Journal
 * ranges stay 64 MiB, but a batch confirms its ranges together, after the target's read-back of all of them:
 * a failure mid-batch (a lost link, a crash of this server) sends up to that batch's bytes again, for each batch
 * in flight (3 x 2 GiB at most, about half a minute at 200 MB/s).
 */
export function directBatchBytes(
  o: { bytes: number; concurrency?: number; bandwidth?: Pick<RateLimiter, "bytesPerSecond"> },
  rangeBytes: number,
): number {
  if (o.bandwidth?.bytesPerSecond) return DIRECT_BATCH_BYTES;
  const share = Math.ceil(o.bytes / (o.concurrency ?? 3) / rangeBytes) * rangeBytes;
  return Math.min(DIRECT_MAX_BATCH_BYTES, Math.max(DIRECT_BATCH_BYTES, share));
}

/** Full copy of a device (volume or snapshot), resumable from the journal. */
export async function copyFull(o: FullCopyOptions): Promise<TransferResult> {
  checkCommon(o);
  const blockBytes = o.blockBytes ?? 4 * MiB;
  const rangeBytes = o.rangeBytes ?? 64 * MiB;
  if (rangeBytes % blockBytes !== 0) throw new RangeError("rangeBytes must be a multiple of blockBytes");
  const zeroes = o.zeroes ?? "detect";
  const batchBytes = Math.max(o.batchBytes ?? (o.direct ? directBatchBytes(o, rangeBytes) : rangeBytes), rangeBytes);
  return runPass(
    o,
    fullRanges(o.bytes, rangeBytes),
    o.mapChunkBytes ?? blockBytes,
    // Scan mode scans exactly the unconfirmed ranges of one contiguous span per batch.
    (rows) => batchRanges(rows, batchBytes, zeroes === "scan" ? 1 : MAX_RUNS_PER_COMMAND),
    (ctx, b, s, onRead) => fullBatch(ctx as FullCtx, b, s, onRead),
    (ctx) => ({ ...ctx, blockBytes, zeroes, targetReadsZero: o.targetReadsZero ?? false }) as FullCtx,
  );
}

/** SFTP mode: a batch of small runs without a process per run (sftp-batch.ts); the same proof as records. */
async function sftpBatch(
  ctx: Ctx,
  batch: readonly JournalRange[],
  signal: AbortSignal,
  onRead: (bytes: number) => void,
): Promise<string | null> {
  const runs = coalesce(batch.map((r) => [r.offset, r.length] as const));
  const r = await copyRunsOverSftp({
    source: ctx.source,
    target: ctx.target,
    runs,
    bandwidth: ctx.bandwidth,
    signal,
    onRead,
  });
  ctx.result.bytesRead += r.bytes;
  ctx.result.bytesOnWire += r.bytes;
  ctx.result.bytesSent += r.bytes;
  return r.readBackMatches ? r.sent : null;
}

/** Copy of exactly the chunks of an extent map (changed chunks of a catch-up or final pass). */
export async function copyExtents(o: ExtentCopyOptions): Promise<TransferResult> {
  checkCommon(o);
  const rangeBytes = o.rangeBytes ?? 16 * MiB;
  const sftpRunBytes = o.sftpRunBytes ?? SFTP_RUN_BYTES;
  return runPass(
    o,
    extentRanges(o.extents, o.chunkBytes, o.deviceBytes, rangeBytes),
    o.chunkBytes,
    (rows) =>
      extentBatches(rows, {
        sftpRunBytes,
        sftpBatchBytes: o.sftpBatchBytes ?? SFTP_BATCH_BYTES,
        batchBytes: o.batchBytes ?? 64 * MiB,
        batchRuns: o.batchRuns ?? 64,
      }),
    (ctx, batch, signal, onRead) =>
      // SFTP moves bytes through this server: the direct path sends every run from host to host.
      !ctx.direct && meanRunBytes(batch) < sftpRunBytes
        ? sftpBatch(ctx, batch, signal, onRead)
        : extentBatch(ctx, batch, signal, onRead),
  );
}

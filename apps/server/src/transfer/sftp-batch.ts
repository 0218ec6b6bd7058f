// A batch of small scattered runs over the hosts' SFTP sessions: no process per run. The source's runs are read
// (read-only handle) and hashed here as received (SHA-256 on the hashing thread, for the journal: the fastest hash
// Node has with SHA instructions), then
// written to the target ("r+": never created or truncated), fsynced, the target's page cache is dropped (one exec
// per batch), and the runs are read back from the device and compared with what was sent. See README in this
// folder for why that equals the dd path's read-back, and when each path is used.
import { cuedDropCacheCommand, validateRemotePath } from "@blockferry/lvm";
import type { JournalRange } from "../db/repositories/transfer-journal.ts";
import { type RemoteFile, SFTP_REQUEST_BYTES } from "../hosts/index.ts";
import { TruncatedStreamError } from "./errors.ts";
import { type HashAlgorithm, offThreadHash } from "./hash-worker.ts";
import type { TransferHost } from "./host.ts";
import { type ByteRun, batchRanges } from "./plan.ts";
import { eachWithLimit } from "./pool.ts";
import type { RateLimiter } from "./rate-limiter.ts";
import { readAllText } from "./relay.ts";
import { settleWithin } from "./settle.ts";

const MiB = 1 << 20;

/** Runs (coalesced) shorter than this go over SFTP by default; longer ones are streamed through dd. */
export const SFTP_RUN_BYTES = MiB;
/** Default upper bound of one SFTP batch (one page-cache drop on the target). */
export const SFTP_BATCH_BYTES = 16 * MiB;
/** SFTP requests of one batch in flight on each host. */
export const IN_FLIGHT = 32;
/** How long a failed or aborted batch waits for its requests and handles to settle. */
export const GRACE_MS = 3000;

export interface SftpEndpoint {
  host: TransferHost;
  device: string;
}

export interface SftpRunsOptions {
  source: SftpEndpoint;
  target: SftpEndpoint;
  /** Disjoint runs in ascending order, multiples of 512 bytes. */
  runs: readonly ByteRun[];
  bandwidth?: RateLimiter;
  signal: AbortSignal;
  /** Told of the source's bytes as they arrive (live progress). */
  onRead?: (bytes: number) => void;
}

export interface SftpRunsResult {
  /** SHA-256 of the runs concatenated, as the source gave them (journaled as the batch's proof). */
  sent: string;
  /** The target's read-back, after fsync and the cache drop, equals those bytes exactly. */
  readBackMatches: boolean;
  /** Bytes moved from source to target. */
  bytes: number;
}

/** One SFTP request's bytes, and the index of the run it belongs to. */
export type Piece = { offset: number; length: number; run: number };

/** Runs cut into single SFTP requests (never across a run). */
export function piecesOf(runs: readonly ByteRun[]): Piece[] {
  const out: Piece[] = [];
  runs.forEach(([offset, length], run) => {
    for (let at = 0; at < length; at += SFTP_REQUEST_BYTES)
      out.push({ offset: offset + at, length: Math.min(SFTP_REQUEST_BYTES, length - at), run });
  });
  return out;
}

/** A hash of pieces in their order, whatever order they arrive in, on the hashing thread. */
export class OrderedHash {
  private readonly hash;
  private readonly early = new Map<number, Buffer>();
  private next = 0;
  private fed: Promise<void> = Promise.resolve();
  private open = true;

  constructor(algorithm: HashAlgorithm) {
    this.hash = offThreadHash(algorithm);
  }

  /** Resolves once this piece's predecessors and (when its turn came) the piece went to the hashing thread. */
  add(index: number, data: Buffer): Promise<void> {
    if (!this.open) return Promise.resolve(); // a lane still running after its batch gave up
    this.early.set(index, data);
    for (let d = this.early.get(this.next); d; d = this.early.get(this.next)) {
      const piece = d;
      this.early.delete(this.next++);
      this.fed = this.fed.then(() => this.hash.update(piece));
    }
    return this.fed;
  }

  async digest(count: number): Promise<string> {
    if (this.next !== count) throw new Error(`hashed ${this.next} of ${count} pieces`);
    this.open = false; // from here the digest ends the hash, whatever happens to the batch
    await this.fed;
    return this.hash.digest();
  }

  /** Forget an unfinished hash (failed batch): the hashing thread keeps the process alive while one is open. */
  discard(): void {
    if (!this.open) return;
    this.open = false;
    // After the updates already chained: dropped before them, the hashing thread would keep a hash nobody ends.
    const drop = () => this.hash.discard();
    void this.fed.then(drop, drop);
  }
}

/**
 * The target's cache drop, started now and run when cued (`cuedDropCacheCommand`): its process start overlaps
 * the batch's writes. `stop` kills it unless it already ran; call it on every way out.
 */
function cuedCacheDrop(host: TransferHost, device: string, signal: AbortSignal) {
  const started = host.execStream(cuedDropCacheCommand({ device }), { signal });
  // Read from the start: ssh2 reports the channel closed only after its output was read, and a kill must not
  // wait for that.
  const output = started.then((p) => {
    p.done.catch(() => undefined); // observed by `run`, or settled by `stop`
    return readAllText(p.stdout);
  });
  output.catch(() => undefined); // observed by `run` or `stop`
  let ran = false;
  return {
    async run(cue: "drop" | "fsync-drop"): Promise<void> {
      const p = await started;
      p.stdin.end(`${cue}\n`);
      await Promise.all([output, p.done]);
      ran = true;
    },
    async stop(): Promise<void> {
      if (ran) return;
      const p = await started.catch(() => null);
      if (!p) return;
      await settleWithin(p.cancel(), GRACE_MS);
      await settleWithin(p.done, GRACE_MS);
    },
  };
}

/**
 * Copies `runs` from source to target over SFTP and proves them: `readBackMatches` only if the target's device
 * returned, after fsync and a cache drop, exactly the bytes the source gave. The batch keeps what it sent (at
 * most `sftpBatchBytes`) until its read-back compared equal: a byte compare costs nothing next to a second hash.
 * Lost connections are ConnectionLostError (hosts layer), a source shorter than a run TruncatedStreamError.
 * Every handle is closed (and the drop command ended) before this settles.
 */
export async function copyRunsOverSftp(o: SftpRunsOptions): Promise<SftpRunsResult> {
  const srcPath = validateRemotePath(o.source.device, "transfer device");
  const dstPath = validateRemotePath(o.target.device, "transfer device");
  const pieces = piecesOf(o.runs);
  const bytes = pieces.reduce((a, p) => a + p.length, 0);
  const opened: Promise<RemoteFile>[] = [];
  const sent = new OrderedHash("sha256");
  const held: (Buffer | undefined)[] = new Array(pieces.length);
  let drop: ReturnType<typeof cuedCacheDrop> | null = null;
  try {
    o.signal.throwIfAborted();
    const srcFile = o.source.host.openFile(srcPath, "r");
    const dstFile = o.target.host.openFile(dstPath, "r+");
    opened.push(srcFile, dstFile);
    drop = cuedCacheDrop(o.target.host, dstPath, o.signal);
    const [src, dst] = await Promise.all([srcFile, dstFile]);

    // The limiter is asked by one lane at a time, in piece order (and keeps one abort listener, not 32).
    let turn: Promise<void> = Promise.resolve();
    const take = (n: number) => {
      const bandwidth = o.bandwidth;
      if (bandwidth) turn = turn.then(() => bandwidth.take(n, o.signal));
      return turn;
    };
    await eachWithLimit(
      pieces,
      IN_FLIGHT,
      o.signal,
      async (p, i) => {
        await take(p.length);
        const data = await src.read(p.offset, p.length);
        if (data.length !== p.length) throw new TruncatedStreamError(o.source.host.name, p.length, data.length);
        o.onRead?.(data.length);
        held[i] = data;
        await Promise.all([sent.add(i, data), dst.write(p.offset, data)]);
      },
      GRACE_MS,
    );
    // The hashing thread finishes the sent hash while the target syncs and reads back.
    const sentHash = sent.digest(pieces.length);
    sentHash.catch(() => undefined); // awaited below; a failure before then must not go unhandled

    // Durable first (dirty pages cannot be dropped), then the command started with the batch drops the device's
    // cache: the reads below miss it and come from the device, as dd's iflag=direct read-back does.
    const fsynced = await dst.fsync();
    await drop.run(fsynced ? "drop" : "fsync-drop");

    let differs = 0;
    await eachWithLimit(
      pieces,
      IN_FLIGHT,
      o.signal,
      async (p, i) => {
        // A short read differs too: a mismatch, never a success.
        if (!(await dst.read(p.offset, p.length)).equals(held[i] as Buffer)) differs++;
        held[i] = undefined;
      },
      GRACE_MS,
    );
    return { sent: await sentHash, readBackMatches: differs === 0, bytes };
  } finally {
    sent.discard();
    await drop?.stop();
    await Promise.allSettled(
      opened.map(async (f) => {
        const file = await f;
        await settleWithin(file.close(), GRACE_MS);
      }),
    );
  }
}

/** Mean length of a batch's runs (adjacent ranges joined): below the threshold the batch goes over SFTP. */
export function meanRunBytes(batch: readonly JournalRange[]): number {
  let runs = 0;
  let bytes = 0;
  let end = -1;
  for (const r of batch) {
    if (r.offset !== end) runs++;
    bytes += r.length;
    end = r.offset + r.length;
  }
  return runs === 0 ? 0 : bytes / runs;
}

export interface ExtentBatching {
  /** Runs shorter than this go over SFTP. */
  sftpRunBytes: number;
  sftpBatchBytes: number;
  /** Bounds of a dd batch (one dd per run on each host). */
  batchBytes: number;
  batchRuns: number;
}

/**
 * Unconfirmed ranges (offset order, as the journal returns them) into batches. Each run (adjacent ranges joined)
 * shorter than `sftpRunBytes` goes to SFTP batches of up to `sftpBatchBytes`: as many runs as fit, since a run
 * there costs one request, not a process. A small change set stays one batch: split over the concurrency, its
 * batches only competed for the same two sftp-servers and the relay thread (1% of 1 GiB: ~180 ms as one batch,
 * ~200 ms as three). Longer runs go to dd batches as before.
 */
export function extentBatches(rows: readonly JournalRange[], o: ExtentBatching): JournalRange[][] {
  const small: JournalRange[] = [];
  const large: JournalRange[] = [];
  let run: JournalRange[] = [];
  let runLength = 0;
  const flush = () => {
    (runLength < o.sftpRunBytes ? small : large).push(...run);
    run = [];
    runLength = 0;
  };
  for (const r of rows) {
    if (r.confirmed) continue;
    const last = run[run.length - 1];
    if (last && last.offset + last.length !== r.offset) flush();
    run.push(r);
    runLength += r.length;
  }
  flush();
  return [
    ...batchRanges(small, o.sftpBatchBytes, Number.MAX_SAFE_INTEGER),
    ...batchRanges(large, o.batchBytes, o.batchRuns),
  ];
}

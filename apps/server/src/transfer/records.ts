// The server side of the record stream that `receiveRecordsCommand` (packages/lvm) reads on the target: the
// source's bytes arrive here, are hashed as they arrive (the hash the target's read-back must equal), and
// leave as `d` records, one per block; all-zero blocks leave as `z` records (the target writes them from
// /dev/zero) or not at all (a target that already reads zeroes). A block is known to be data at its first
// non-zero byte: its record starts then and the rest streams through, so nothing is held but a count of the
// zero bytes that began it (held buffers get promoted and make garbage collection the relay's main cost).
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { RECORD } from "@blockferry/lvm";
import { TruncatedStreamError } from "./errors.ts";
import { type HashAlgorithm, type OffThreadHash, offThreadHash } from "./hash-worker.ts";
import type { ByteRun } from "./plan.ts";

/** A piece of the batch in device order: bytes to read from the source, or bytes known to be zero there. */
export type Segment = { offset: number; length: number; source: "read" | "zero" };

export interface RecordOptions {
  /** Blocks (aligned to device offsets) the bytes read are checked in: one record each. */
  blockBytes: number;
  /** All-zero blocks become zero records; otherwise every byte read is sent. */
  detectZeroes: boolean;
  /** The target already reads zeroes (a fresh thin LV): zero blocks are not written at all. */
  skipZeroes: boolean;
  /** Longest data record when zeroes are not detected (blocks are then only record boundaries). */
  maxRecordBytes: number;
  /** The hash the target's read-back line carries. */
  hashAlgorithm: HashAlgorithm;
  /** Told of the source's bytes as they arrive (live progress). */
  onRead?: (bytes: number) => void;
}

export interface RecordResult {
  /** Hash of the data records' bytes in order (what the target's read-back must print). */
  hash: string | null;
  dataRuns: ByteRun[];
  /** Zero records written on the target (each answered by a `z`/`x` read-back line). */
  zeroRuns: ByteRun[];
  bytesRead: number;
  bytesSent: number;
  bytesZeroed: number;
  bytesSkipped: number;
}

const ZEROES = Buffer.alloc(1 << 20);

export function isAllZero(buf: Buffer): boolean {
  for (let at = 0; at < buf.length; at += ZEROES.length) {
    const n = Math.min(ZEROES.length, buf.length - at);
    if (!buf.subarray(at, at + n).equals(ZEROES.subarray(0, n))) return false;
  }
  return true;
}

class RecordWriter {
  private pendingZero: { offset: number; length: number } | null = null;
  private hasher: OffThreadHash | null = null;
  readonly result: RecordResult = {
    hash: null,
    dataRuns: [],
    zeroRuns: [],
    bytesRead: 0,
    bytesSent: 0,
    bytesZeroed: 0,
    bytesSkipped: 0,
  };

  constructor(
    private readonly to: Writable,
    private readonly opts: RecordOptions,
    private readonly signal: AbortSignal,
  ) {}

  /** Zero bytes at `offset`: joined to the zero record being gathered (nothing is sent yet). */
  async zero(offset: number, length: number): Promise<void> {
    const z = this.pendingZero;
    if (z && z.offset + z.length === offset) z.length += length;
    else {
      await this.flushZero();
      this.pendingZero = { offset, length };
    }
  }

  /** Starts a data record of `length` bytes at `offset`; its bytes follow through `data`. */
  async startData(offset: number, length: number): Promise<void> {
    await this.flushZero();
    await this.write(Buffer.from(`${RECORD.data} ${offset} ${length}\n`));
    const runs = this.result.dataRuns;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === offset) runs[runs.length - 1] = [last[0], last[1] + length];
    else runs.push([offset, length]);
    this.result.bytesSent += length;
  }

  async data(buf: Buffer): Promise<void> {
    this.hasher ??= offThreadHash(this.opts.hashAlgorithm);
    await this.hasher.update(buf);
    await this.write(buf);
  }

  async end(): Promise<RecordResult> {
    await this.flushZero();
    await this.write(Buffer.from(`${RECORD.end}\n`));
    this.to.end();
    this.result.hash = (await this.hasher?.digest()) ?? null;
    return this.result;
  }

  /** A failed batch: its hash will never be finished. */
  discard(): void {
    this.hasher?.discard();
  }

  private async flushZero(): Promise<void> {
    const z = this.pendingZero;
    if (!z) return;
    this.pendingZero = null;
    if (this.opts.skipZeroes) {
      this.result.bytesSkipped += z.length;
      return;
    }
    await this.write(Buffer.from(`${RECORD.zero} ${z.offset} ${z.length}\n`));
    this.result.zeroRuns.push([z.offset, z.length]);
    this.result.bytesZeroed += z.length;
  }

  private async write(buf: Buffer): Promise<void> {
    if (!this.to.write(buf)) await once(this.to, "drain", { signal: this.signal });
  }
}

/**
 * Reads exactly the `read` segments' bytes from `from` (in order) and writes the records of all segments to
 * `to`. The end record is written only after every planned byte arrived: a short or long source stream throws
 * `TruncatedStreamError` and leaves the target without it, so the target fails instead of confirming anything.
 */
export async function pumpRecords(
  host: string,
  from: Readable | null,
  to: Writable,
  segments: readonly Segment[],
  opts: RecordOptions,
  signal: AbortSignal,
): Promise<RecordResult> {
  const w = new RecordWriter(to, opts, signal);
  const expected = segments.reduce((a, s) => a + (s.source === "read" ? s.length : 0), 0);
  const unit = opts.detectZeroes ? opts.blockBytes : opts.maxRecordBytes;
  let si = 0; // current segment
  let pos = 0; // bytes of it done, up to the current block's start
  let got = 0; // bytes of the current block received
  let zeroes = 0; // the block's bytes so far are zero and not yet sent (kind still open)
  let isData = false;

  const blockLength = (s: Segment) => Math.min(unit - ((s.offset + pos) % unit), s.length - pos);
  // Passes known-zero segments, opens the next block; false once every segment is done.
  const nextBlock = async (): Promise<boolean> => {
    for (;;) {
      const s = segments[si];
      if (!s) return false;
      if (s.source === "read") {
        isData = !opts.detectZeroes;
        if (isData) await w.startData(s.offset + pos, blockLength(s));
        return true;
      }
      await w.zero(s.offset, s.length);
      si++;
    }
  };
  const piece = async (s: Segment, buf: Buffer) => {
    if (!isData && isAllZero(buf)) zeroes += buf.length;
    else {
      if (!isData) {
        isData = true;
        await w.startData(s.offset + pos, blockLength(s));
        for (let n = zeroes; n > 0; n -= ZEROES.length) await w.data(ZEROES.subarray(0, Math.min(n, ZEROES.length)));
        zeroes = 0;
      }
      await w.data(buf);
    }
    got += buf.length;
    if (got < blockLength(s)) return;
    if (!isData) await w.zero(s.offset + pos, got);
    pos += got;
    got = 0;
    zeroes = 0;
    if (pos === s.length) {
      si++;
      pos = 0;
    }
    await nextBlock();
  };

  try {
    let more = await nextBlock();
    if (from) {
      for await (const chunk of from as AsyncIterable<Buffer>) {
        w.result.bytesRead += chunk.length;
        opts.onRead?.(chunk.length);
        if (w.result.bytesRead > expected || !more) throw new TruncatedStreamError(host, expected, w.result.bytesRead);
        let rest = chunk;
        while (rest.length > 0) {
          const s = segments[si] as Segment;
          const take = Math.min(rest.length, blockLength(s) - got);
          await piece(s, rest.subarray(0, take));
          rest = rest.subarray(take);
        }
        more = si < segments.length;
      }
    }
    signal.throwIfAborted();
    if (w.result.bytesRead !== expected) throw new TruncatedStreamError(host, expected, w.result.bytesRead);
    return await w.end();
  } catch (e) {
    w.discard();
    throw e;
  }
}

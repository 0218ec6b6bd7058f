// The server side of the record stream that `receiveRecordsCommand` (packages/lvm) reads on the target: the
// source's bytes arrive here, are hashed as they arrive (the hash the target's read-back must equal), and
// leave as `d` records; all-zero blocks leave as `z` records (the target writes them from /dev/zero) or not at
// all (a target that already reads zeroes). Records need their length up front, and few large records mean
// few dd processes on the target, so data is held: one record being written, one filling, plus one block.
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { RECORD } from "@blockferry/lvm";
import { TruncatedStreamError } from "./errors.ts";
import { type OffThreadHash, offThreadHash } from "./hash-worker.ts";
import type { ByteRun } from "./plan.ts";

/** A piece of the batch in device order: bytes to read from the source, or bytes known to be zero there. */
export type Segment = { offset: number; length: number; source: "read" | "zero" };

export interface RecordOptions {
  /** Blocks (aligned to device offsets) the bytes read are checked and buffered in. */
  blockBytes: number;
  /** All-zero blocks become zero records; otherwise every byte read is sent. */
  detectZeroes: boolean;
  /** The target already reads zeroes (a fresh thin LV): zero blocks are not written at all. */
  skipZeroes: boolean;
  /** Longest data record. */
  maxRecordBytes: number;
  /** The hash the target's read-back line carries. */
  hashAlgorithm: "blake2b512" | "sha256";
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
  private pending: { zero: boolean; offset: number; length: number; parts: Buffer[] } | null = null;
  private hasher: OffThreadHash | null = null;
  private writing: Promise<void> = Promise.resolve();
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

  async add(zero: boolean, offset: number, length: number, parts: Buffer[]): Promise<void> {
    const p = this.pending;
    const fits = zero || (p !== null && p.length + length <= this.opts.maxRecordBytes);
    if (p && p.zero === zero && p.offset + p.length === offset && fits) {
      p.length += length;
      p.parts.push(...parts);
      return;
    }
    await this.flush();
    this.pending = { zero, offset, length, parts: [...parts] };
  }

  /**
   * Hands the pending record to the writer and returns once the record before it is written: one record goes
   * out to the target while the next one fills from the source, so both links stay busy.
   */
  async flush(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    await this.writing;
    this.writing = this.writeRecord(p);
    this.writing.catch(() => undefined); // awaited by the next flush or end()
  }

  private async writeRecord(p: { zero: boolean; offset: number; length: number; parts: Buffer[] }): Promise<void> {
    const r = this.result;
    if (p.zero && this.opts.skipZeroes) {
      r.bytesSkipped += p.length;
      return;
    }
    await this.write(Buffer.from(`${p.zero ? RECORD.zero : RECORD.data} ${p.offset} ${p.length}\n`));
    if (p.zero) {
      r.zeroRuns.push([p.offset, p.length]);
      r.bytesZeroed += p.length;
      return;
    }
    this.hasher ??= offThreadHash(this.opts.hashAlgorithm);
    for (const part of p.parts) {
      await this.hasher.update(part);
      await this.write(part);
    }
    r.dataRuns.push([p.offset, p.length]);
    r.bytesSent += p.length;
  }

  async end(): Promise<RecordResult> {
    await this.flush();
    await this.writing;
    await this.write(Buffer.from(`${RECORD.end}\n`));
    this.to.end();
    this.result.hash = (await this.hasher?.digest()) ?? null;
    return this.result;
  }

  /** A failed batch: its hash will never be finished. */
  discard(): void {
    this.hasher?.discard();
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
  let si = 0; // current segment
  let pos = 0; // bytes of it done
  let block: Buffer[] = [];
  let blockBytes = 0;

  // Emits leading zero segments, and the block under construction once complete.
  const blockEnd = (s: Segment) => {
    const at = s.offset + pos;
    return Math.min(opts.blockBytes - (at % opts.blockBytes), s.length - pos);
  };
  const advance = async () => {
    for (;;) {
      const s = segments[si];
      if (!s) return;
      if (s.source === "zero") {
        await w.add(true, s.offset, s.length, []);
        si++;
        continue;
      }
      if (blockBytes === 0 || blockBytes < blockEnd(s)) return;
      const parts = block;
      const zero = opts.detectZeroes && parts.every(isAllZero);
      await w.add(zero, s.offset + pos, blockBytes, zero ? [] : parts);
      pos += blockBytes;
      block = [];
      blockBytes = 0;
      if (pos === s.length) {
        si++;
        pos = 0;
      }
    }
  };

  try {
    await advance();
    if (from) {
      for await (const chunk of from as AsyncIterable<Buffer>) {
        w.result.bytesRead += chunk.length;
        if (w.result.bytesRead > expected) throw new TruncatedStreamError(host, expected, w.result.bytesRead);
        let rest = chunk;
        while (rest.length > 0) {
          const s = segments[si] as Segment;
          const take = Math.min(rest.length, blockEnd(s) - blockBytes);
          block.push(rest.subarray(0, take));
          blockBytes += take;
          rest = rest.subarray(take);
          await advance();
        }
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

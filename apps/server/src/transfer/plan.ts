import type { JournalRange } from "../db/repositories/transfer-journal.ts";

export type ByteRun = readonly [offset: number, length: number];

/** What copyExtents needs of an ExtentMap (packages/changes): its runs in ascending chunk order. */
export interface ChunkRuns {
  forEachRun(fn: (first: number, count: number) => void): void;
}

/** The whole device as ranges of `rangeBytes` (the last one shorter). */
export function fullRanges(bytes: number, rangeBytes: number): ByteRun[] {
  const out: ByteRun[] = [];
  for (let o = 0; o < bytes; o += rangeBytes) out.push([o, Math.min(rangeBytes, bytes - o)]);
  return out;
}

/** Chunk runs as byte ranges: each run split at `rangeBytes`, clamped to the device end. */
export function extentRanges(
  extents: ChunkRuns,
  chunkBytes: number,
  deviceBytes: number,
  rangeBytes: number,
): ByteRun[] {
  const out: ByteRun[] = [];
  extents.forEachRun((first, count) => {
    const start = first * chunkBytes;
    const end = Math.min((first + count) * chunkBytes, deviceBytes);
    for (let o = start; o < end; o += rangeBytes) out.push([o, Math.min(rangeBytes, end - o)]);
  });
  return out;
}

/** Adjacent runs merged: fewer, larger dd requests. */
export function coalesce(runs: readonly ByteRun[]): ByteRun[] {
  const out: [number, number][] = [];
  for (const [o, l] of runs) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === o) last[1] += l;
    else out.push([o, l]);
  }
  return out;
}

/**
 * Unconfirmed ranges grouped into batches, in offset order: each batch is one exec per host. A batch stops at
 * `maxBytes` or when its coalesced runs would exceed `maxRuns` (one command line stays small).
 */
export function batchRanges<R extends Pick<JournalRange, "offset" | "length"> & { confirmed?: boolean }>(
  ranges: readonly R[],
  maxBytes: number,
  maxRuns: number,
): R[][] {
  const out: R[][] = [];
  let cur: R[] = [];
  let bytes = 0;
  let runs = 0;
  let end = -1;
  for (const r of ranges) {
    if (r.confirmed) continue;
    const newRun = r.offset !== end;
    if (cur.length && (bytes + r.length > maxBytes || (newRun && runs + 1 > maxRuns))) {
      out.push(cur);
      cur = [];
      bytes = 0;
      runs = 0;
      end = -1;
    }
    if (cur.length === 0 || r.offset !== end) runs++;
    cur.push(r);
    bytes += r.length;
    end = r.offset + r.length;
  }
  if (cur.length) out.push(cur);
  return out;
}

// Writes dm-snapshot persistent stores byte for byte the way drivers/md/dm-snap-persistent.c does:
// header in chunk 0, metadata area n at chunk 1 + (perArea + 1) * n, COW chunks handed out in order while
// skipping metadata chunks, records appended in commit order, the next area zeroed when one fills.
import { areaChunk, RECORD_BYTES, recordsPerArea, SECTOR_BYTES, SNAP_MAGIC } from "../../src/cow-layout.ts";

export interface StoreSpec {
  chunkBytes: number;
  /** Origin chunks in commit order. */
  oldChunks: number[];
  /**
   * Commit order differs from allocation order in the kernel (copies finish out of order): a permutation
   * of 0..n-1 where record k gets the COW chunk allocated commitOrder[k]-th. Default: identity.
   */
  commitOrder?: number[];
  /** Extra chunks after the last one used (default 3). */
  spareChunks?: number;
  valid?: number;
  version?: number;
  magic?: number;
  chunkSectorsOverride?: number;
  /** Data chunks get this byte so a test can see data is never parsed (default 0xa5). */
  dataFill?: number;
}

export interface BuiltStore {
  bytes: Uint8Array;
  /** COW chunk of each record, in record order. */
  newChunks: number[];
  perArea: number;
  /** Metadata areas the kernel would read (the last, partly filled one included). */
  areas: number;
}

export function buildCowStore(spec: StoreSpec): BuiltStore {
  const { chunkBytes, oldChunks } = spec;
  const perArea = recordsPerArea(chunkBytes);
  // allocate COW chunks sequentially, skipping metadata chunks (persistent_prepare_exception + skip_metadata)
  const allocated: number[] = [];
  let nextFree = areaChunk(0, perArea) + 1;
  for (let i = 0; i < oldChunks.length; i++) {
    allocated.push(nextFree);
    nextFree++;
    if ((nextFree - 1) % (perArea + 1) === 0) nextFree++;
  }
  const newChunks = spec.commitOrder ? spec.commitOrder.map((j) => allocated[j] as number) : allocated;
  const areas = Math.floor(oldChunks.length / perArea) + 1;
  const lastArea = areaChunk(areas - 1, perArea);
  const highest = Math.max(lastArea, nextFree - 1);
  const deviceChunks = highest + 1 + (spec.spareChunks ?? 3);
  const bytes = new Uint8Array(deviceChunks * chunkBytes);
  bytes.fill(spec.dataFill ?? 0xa5, chunkBytes);
  for (let a = 0; a < areas; a++) {
    const off = areaChunk(a, perArea) * chunkBytes;
    bytes.fill(0, off, off + chunkBytes);
  }
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, spec.magic ?? SNAP_MAGIC, true);
  dv.setUint32(4, spec.valid ?? 1, true);
  dv.setUint32(8, spec.version ?? 1, true);
  dv.setUint32(12, spec.chunkSectorsOverride ?? chunkBytes / SECTOR_BYTES, true);
  oldChunks.forEach((old, k) => {
    const off = areaChunk(Math.floor(k / perArea), perArea) * chunkBytes + (k % perArea) * RECORD_BYTES;
    dv.setBigUint64(off, BigInt(old), true);
    dv.setBigUint64(off + 8, BigInt(newChunks[k] as number), true);
  });
  return { bytes, newChunks, perArea, areas };
}

/** Byte offset of record k's old_chunk field. */
export function recordOffset(store: BuiltStore, chunkBytes: number, k: number): number {
  return areaChunk(Math.floor(k / store.perArea), store.perArea) * chunkBytes + (k % store.perArea) * RECORD_BYTES;
}

/**
 * The kernel's reading (read_header + read_exceptions + insert_exceptions) with none of our extra checks:
 * the set of origin chunks a kernel loading these bytes would remap, or "error" where it refuses to load.
 */
export function kernelView(bytes: Uint8Array): Set<bigint> | "error" | "invalid" {
  if (bytes.length < 16) return "error";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== SNAP_MAGIC) return "error";
  const sectors = dv.getUint32(12, true);
  if (sectors === 0 || (sectors & (sectors - 1)) !== 0) return "error";
  const chunkBytes = sectors * SECTOR_BYTES;
  if (dv.getUint32(8, true) !== 1) return "error";
  if (dv.getUint32(4, true) === 0) return "invalid";
  const perArea = chunkBytes / RECORD_BYTES;
  const deviceChunks = Math.floor(bytes.length / chunkBytes);
  const out = new Set<bigint>();
  for (let area = 0; ; area++) {
    const loc = areaChunk(area, perArea);
    if (loc >= deviceChunks) return "error"; // dm_bufio_read past the end fails
    for (let i = 0; i < perArea; i++) {
      const off = loc * chunkBytes + i * RECORD_BYTES;
      const newChunk = dv.getBigUint64(off + 8, true);
      if (newChunk === 0n) return out;
      out.add(dv.getBigUint64(off, true));
    }
  }
}

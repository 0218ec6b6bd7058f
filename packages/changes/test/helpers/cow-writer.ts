// Writes dm-snapshot persistent stores byte for byte the way drivers/md/dm-snap-persistent.c does:
// header in chunk 0, metadata area n at chunk 1 + (perArea + 1) * n, COW chunks handed out in order while
// skipping metadata chunks, records appended in commit order, the next area zeroed when one fills.
import {
  areaChunk,
  isMetadataChunk,
  RECORD_BYTES,
  recordsPerArea,
  SECTOR_BYTES,
  SNAP_MAGIC,
} from "../../src/cow-layout.ts";

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
 * insert_exceptions checks nothing but new_chunk == 0 (the end of the list); it only raises next_free to
 * max(new_chunk) + 1. One simplification: dm_add_exception keeps the record's new_chunk as is, and the
 * kernel reads its top 8 bits as a count of consecutive chunks (DM_CHUNK_NUMBER_BITS = 56), so such a
 * record would remap more origin chunks than this model says. Such a new_chunk lies past the end of any
 * COW device, which the reader rejects, so the model is never compared with an answer there.
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

/**
 * Why no kernel could have written these bytes (the first reason found), or undefined when one could.
 * Damage that leaves a store the kernel could have written is undetectable: the format has no checksums,
 * so to any reader (the kernel included) it is simply a different store. The invariants the kernel's
 * writer keeps (drivers/md/dm-snap-persistent.c):
 * - the header: magic, valid 1, version 1, the snapshot's chunk size (write_header);
 * - every record before the end of the list names a data chunk of the COW device, each at most once:
 *   persistent_prepare_exception hands out next_free only while it fits the device, skip_metadata steps
 *   over metadata chunks, and next_free only grows;
 * - no origin chunk has two records: it is copied once, later writes to it find its exception;
 * - the list ends at an all-zero record and the rest of that area is zero: an area is zeroed before use
 *   (zero_disk_area; area 0 of a new snapshot), records fill it in slot order, merges clear records to 0.
 * Not invariants: which data chunks are in use. Records are appended in completion order and a full area
 * is written while copies are still in flight, so after a crash (and after merges, which clear records
 * from the end) the used COW chunks can have holes; new_chunk need not be the lowest free chunk nor lie
 * in its own area's data region. Nor is old_chunk bounded: the origin size is not in the store.
 */
export function implausibility(bytes: Uint8Array, chunkBytes: number): string | undefined {
  if (bytes.length < chunkBytes) return "no whole header chunk";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== SNAP_MAGIC) return "header magic";
  if (dv.getUint32(4, true) !== 1) return "header valid flag";
  if (dv.getUint32(8, true) !== 1) return "header version";
  if (dv.getUint32(12, true) * SECTOR_BYTES !== chunkBytes) return "header chunk size";
  const perArea = recordsPerArea(chunkBytes);
  const deviceChunks = Math.floor(bytes.length / chunkBytes);
  const olds = new Set<bigint>();
  const news = new Set<bigint>();
  for (let area = 0; ; area++) {
    const loc = areaChunk(area, perArea);
    if (loc >= deviceChunks) return `metadata area ${area} past the device end`;
    for (let i = 0; i < perArea; i++) {
      const off = loc * chunkBytes + i * RECORD_BYTES;
      const oldChunk = dv.getBigUint64(off, true);
      const newChunk = dv.getBigUint64(off + 8, true);
      const where = `area ${area} record ${i}`;
      if (newChunk === 0n) {
        const end = (loc + 1) * chunkBytes;
        for (let b = off; b < end; b++) if (bytes[b] !== 0) return `${where}: end of list not zero to the area end`;
        return undefined;
      }
      if (newChunk >= BigInt(deviceChunks)) return `${where}: new_chunk ${newChunk} past the device end`;
      if (isMetadataChunk(Number(newChunk), perArea)) return `${where}: new_chunk ${newChunk} is a metadata chunk`;
      if (news.has(newChunk)) return `${where}: COW chunk ${newChunk} used twice`;
      if (olds.has(oldChunk)) return `${where}: origin chunk ${oldChunk} has two exceptions`;
      news.add(newChunk);
      olds.add(oldChunk);
    }
  }
}

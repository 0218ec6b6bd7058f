import type { ByteSource } from "./byte-source.ts";
import {
  areaChunk,
  HEADER_BYTES,
  isMetadataChunk,
  MAX_CHUNK_BYTES,
  MIN_CHUNK_BYTES,
  RECORD_BYTES,
  recordsPerArea,
  SECTOR_BYTES,
  SNAP_DISK_VERSION,
  SNAP_MAGIC,
} from "./cow-layout.ts";
import {
  CowBadChunkSizeError,
  CowBadMagicError,
  CowCorruptHeaderError,
  CowCorruptTerminatorError,
  CowCountMismatchError,
  CowDuplicateChunkError,
  CowInvalidSnapshotError,
  CowRecordOutOfRangeError,
  CowTruncatedError,
  CowUnsupportedVersionError,
} from "./errors.ts";
import { type ExtentMap, ExtentMapBuilder, MAX_CHUNK_END } from "./extent-map.ts";

export interface CowHeader {
  /** false: the snapshot overflowed or was dropped; its exception list is not to be used. */
  valid: boolean;
  version: number;
  chunkBytes: number;
}

export interface CowStoreOptions {
  /** Origin size: records pointing at or past its last chunk are an error. */
  originBytes?: number;
  /** Chunk size the caller expects (e.g. from `dmsetup table`); a different header is an error. */
  chunkBytes?: number;
  /**
   * Exception count the kernel reports, (ALLOC - METADATA) / CHUNK_SECTORS from `dmsetup status`, taken
   * after the origin stopped receiving writes. A different count is an error. (After a host crash the
   * store can hold allocated-but-uncommitted chunks; then the kernel's figure is larger and the caller
   * should not pass it.)
   */
  expectExceptions?: number;
  /** Metadata areas read concurrently ahead of the one being parsed (default 8). */
  readAheadAreas?: number;
}

export interface CowStore {
  chunkBytes: number;
  valid: true;
  exceptionCount: number;
  /** Origin chunks that have an exception, i.e. chunks written since the snapshot was taken. */
  extents: ExtentMap;
  /** Metadata areas read, the last (partly filled) one included. */
  areaCount: number;
  /** Highest COW chunk any record uses (0 when there are no records). */
  highestCowChunk: number;
}

/** Reads and checks chunk 0. Throws on anything but a usable or invalidated version-1 header. */
export async function readCowHeader(source: ByteSource, opts: { chunkBytes?: number } = {}): Promise<CowHeader> {
  // A whole sector: devices opened with O_DIRECT refuse reads smaller than that.
  const bytes = await source.read(0, SECTOR_BYTES);
  if (bytes.length < HEADER_BYTES) {
    throw new CowTruncatedError(`COW store is ${bytes.length} bytes: too short for a header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  const valid = dv.getUint32(4, true);
  const version = dv.getUint32(8, true);
  const chunkSectors = dv.getUint32(12, true);
  // Checked in the kernel's order: magic, chunk size, version, valid.
  if (magic !== SNAP_MAGIC) throw new CowBadMagicError(magic);
  const chunkBytes = chunkSectors * SECTOR_BYTES;
  if (chunkSectors === 0 || (chunkSectors & (chunkSectors - 1)) !== 0) {
    throw new CowBadChunkSizeError(chunkSectors, "not a power of two");
  }
  if (chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES) {
    throw new CowBadChunkSizeError(chunkSectors, "outside the 4 KiB .. 512 KiB LVM snapshots use");
  }
  if (opts.chunkBytes !== undefined && opts.chunkBytes !== chunkBytes) {
    throw new CowBadChunkSizeError(chunkSectors, `expected ${opts.chunkBytes / SECTOR_BYTES} sectors`);
  }
  if (version !== SNAP_DISK_VERSION) throw new CowUnsupportedVersionError(version);
  // The kernel writes only 0 or 1 here (and would take any non-zero as valid): anything else is damage.
  if (valid !== 0 && valid !== 1) throw new CowCorruptHeaderError(`COW header valid flag is ${valid}, not 0 or 1`);
  return { valid: valid === 1, version, chunkBytes };
}

/**
 * Reads a whole persistent exception store: the header, then metadata area after metadata area until the
 * first record whose new_chunk is 0. Reads only the header and the metadata areas (a few in flight at a
 * time), never the data chunks. Every inconsistency throws a ChangesError: there is no partial answer.
 */
export async function readCowStore(source: ByteSource, opts: CowStoreOptions = {}): Promise<CowStore> {
  const header = await readCowHeader(source, opts);
  if (!header.valid) throw new CowInvalidSnapshotError();
  const { chunkBytes } = header;
  const deviceChunks = Math.floor((await source.size()) / chunkBytes);
  const perArea = recordsPerArea(chunkBytes);
  const originChunks =
    opts.originBytes === undefined ? Math.floor(MAX_CHUNK_END / chunkBytes) : Math.ceil(opts.originBytes / chunkBytes);
  const readAhead = Math.max(1, opts.readAheadAreas ?? 8);

  const origin = new ExtentMapBuilder();
  const cow = new ExtentMapBuilder(); // only to prove no COW chunk is used twice
  let exceptionCount = 0;
  let highestCowChunk = 0;

  const inFlight = new Map<number, Promise<Uint8Array>>();
  let nextToIssue = 0;
  const issueUpTo = (limit: number) => {
    while (nextToIssue < limit && areaChunk(nextToIssue, perArea) < deviceChunks) {
      const p = source.read(areaChunk(nextToIssue, perArea) * chunkBytes, chunkBytes);
      p.catch(() => undefined); // read-ahead we may never await must not become an unhandled rejection
      inFlight.set(nextToIssue, p);
      nextToIssue++;
    }
  };

  let area = 0;
  try {
    for (; ; area++) {
      issueUpTo(area + readAhead);
      const location = areaChunk(area, perArea);
      const pending = inFlight.get(area);
      inFlight.delete(area);
      if (!pending) {
        throw new CowTruncatedError(
          `metadata area ${area} (chunk ${location}) lies past the end of the COW device (${deviceChunks} chunks): store truncated`,
        );
      }
      const bytes = await pending;
      if (bytes.length < chunkBytes) {
        throw new CowTruncatedError(`metadata area ${area} (chunk ${location}): short read of ${bytes.length} bytes`);
      }
      const w = littleEndianWords(bytes, chunkBytes);
      let full = true;
      for (let i = 0; i < perArea; i++) {
        const o = 4 * i;
        const newLo = w[o + 2] as number;
        const newHi = w[o + 3] as number;
        const oldLo = w[o] as number;
        const oldHi = w[o + 1] as number;
        if (newLo === 0 && newHi === 0) {
          checkTerminator(bytes, i, area, oldLo, oldHi);
          full = false;
          break;
        }
        const where = `area ${area} record ${i}`;
        // hi >= 2^21 means >= 2^53: certainly out of range, and not exactly representable.
        const newChunk = newHi >= 0x200000 ? Number.POSITIVE_INFINITY : newHi * 0x100000000 + newLo;
        if (newChunk >= deviceChunks) {
          throw new CowRecordOutOfRangeError(
            `${where}: new_chunk ${fmtU64(newHi, newLo)} is past the COW device end (${deviceChunks} chunks)`,
          );
        }
        // Not checked: that new_chunk lies in this area's own data region. The kernel allocates COW chunks
        // in order (persistent_prepare_exception) but appends records in completion order
        // (persistent_commit_exception), so a record can name a chunk of a neighbouring area's region.
        if (isMetadataChunk(newChunk, perArea)) {
          throw new CowRecordOutOfRangeError(`${where}: new_chunk ${newChunk} is a metadata chunk, not a data chunk`);
        }
        const oldChunk = oldHi >= 0x200000 ? Number.POSITIVE_INFINITY : oldHi * 0x100000000 + oldLo;
        if (oldChunk >= originChunks) {
          throw new CowRecordOutOfRangeError(
            `${where}: old_chunk ${fmtU64(oldHi, oldLo)} is past the origin end (${originChunks} chunks)`,
          );
        }
        origin.add(oldChunk, 1);
        cow.add(newChunk, 1);
        if (newChunk > highestCowChunk) highestCowChunk = newChunk;
        exceptionCount++;
      }
      if (!full) break;
    }
  } finally {
    // Let read-ahead settle so a caller may close the source as soon as we return.
    await Promise.allSettled(inFlight.values());
  }

  // The kernel never maps an origin chunk twice nor hands out a COW chunk twice.
  const dupOld = origin.firstOverlap;
  if (dupOld !== undefined) throw new CowDuplicateChunkError(`origin chunk ${dupOld} has more than one exception`);
  const dupNew = cow.firstOverlap;
  if (dupNew !== undefined) throw new CowDuplicateChunkError(`COW chunk ${dupNew} is used by more than one exception`);
  if (opts.expectExceptions !== undefined && opts.expectExceptions !== exceptionCount) {
    throw new CowCountMismatchError(opts.expectExceptions, exceptionCount);
  }
  return {
    chunkBytes,
    valid: true,
    exceptionCount,
    extents: origin.build(),
    areaCount: area + 1,
    highestCowChunk,
  };
}

/**
 * The kernel ends the list with an all-zero record and keeps the rest of the area zero (areas are zeroed
 * before use; merges clear records to zero). A terminator with an old_chunk, or records after it, means a
 * record's new_chunk was damaged into 0 and the list would silently stop early.
 */
function checkTerminator(bytes: Uint8Array, index: number, area: number, oldLo: number, oldHi: number): void {
  if (oldLo !== 0 || oldHi !== 0) {
    throw new CowCorruptTerminatorError(
      `area ${area} record ${index}: new_chunk 0 with old_chunk ${fmtU64(oldHi, oldLo)}: damaged record or terminator`,
    );
  }
  for (let b = (index + 1) * RECORD_BYTES; b < bytes.length; b++) {
    if (bytes[b] !== 0) {
      throw new CowCorruptTerminatorError(
        `area ${area}: non-zero bytes after the end-of-list record ${index} (offset ${b} in the area): damaged terminator`,
      );
    }
  }
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The area as little-endian u32 words: a view when the host allows it (fast), else a converted copy. */
function littleEndianWords(bytes: Uint8Array, length: number): Uint32Array {
  if (HOST_IS_LITTLE_ENDIAN && bytes.byteOffset % 4 === 0)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, length / 4);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, length);
  const out = new Uint32Array(length / 4);
  for (let k = 0; k < out.length; k++) out[k] = dv.getUint32(4 * k, true);
  return out;
}

function fmtU64(hi: number, lo: number): string {
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

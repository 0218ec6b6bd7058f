// Layout of the dm-snapshot persistent exception store (drivers/md/dm-snap-persistent.c), shared by the
// reader and the test helper that writes stores byte for byte as the kernel does.

export const SNAP_MAGIC = 0x70416e53; // "SnAp" little-endian
export const SNAP_DISK_VERSION = 1;
export const SECTOR_BYTES = 512;
export const HEADER_BYTES = 16; // magic, valid, version, chunk size in sectors: four LE u32
export const RECORD_BYTES = 16; // old_chunk, new_chunk: two LE u64

// The kernel accepts any power-of-two chunk from the device's logical block size up to 2^21 sectors
// (dm_exception_store_set_chunk_size), but `lvcreate -s --chunksize` only makes 4 KiB .. 512 KiB.
// Blockferry only reads LVM snapshots, so a header outside that range is treated as damage.
export const MIN_CHUNK_BYTES = 4 * 1024;
export const MAX_CHUNK_BYTES = 512 * 1024;

export function recordsPerArea(chunkBytes: number): number {
  return chunkBytes / RECORD_BYTES;
}

/** Chunk number of metadata area `area`: the header chunk, then each area followed by its data chunks. */
export function areaChunk(area: number, perArea: number): number {
  return 1 + (perArea + 1) * area;
}

/** True for the header chunk and for every metadata area chunk. */
export function isMetadataChunk(chunk: number, perArea: number): boolean {
  return chunk === 0 || (chunk - 1) % (perArea + 1) === 0;
}

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type ByteSource,
  bufferByteSource,
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
  ExtentMap,
  fileByteSource,
  readCowHeader,
  readCowStore,
} from "../src/index.ts";
import { buildCowStore, recordOffset } from "./helpers/cow-writer.ts";

const K = 1024;
const src = (b: Uint8Array) => bufferByteSource(b);

/** Counts the bytes read through a source, to prove data chunks are never touched. */
function counting(inner: ByteSource) {
  const reads: [number, number][] = [];
  return {
    reads,
    source: {
      size: () => inner.size(),
      read: (o: number, l: number) => {
        reads.push([o, l]);
        return inner.read(o, l);
      },
    } satisfies ByteSource,
  };
}

describe("readCowStore on kernel-layout stores", () => {
  it("reads an empty store (fresh snapshot)", async () => {
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: [] });
    const r = await readCowStore(src(s.bytes));
    expect(r).toMatchObject({ chunkBytes: 4096, valid: true, exceptionCount: 0, areaCount: 1, highestCowChunk: 0 });
    expect(r.extents.isEmpty).toBe(true);
  });

  it("reads 4 KiB and 64 KiB stores, coalescing origin chunks", async () => {
    for (const chunkBytes of [4 * K, 64 * K, 512 * K]) {
      const oldChunks = [7, 3, 4, 5, 100, 6, 0];
      const s = buildCowStore({ chunkBytes, oldChunks });
      const r = await readCowStore(src(s.bytes));
      expect(r.chunkBytes).toBe(chunkBytes);
      expect(r.exceptionCount).toBe(7);
      expect(r.extents.toJSON()).toEqual([
        [0, 1],
        [3, 5],
        [100, 1],
      ]);
      expect(r.highestCowChunk).toBe(8);
    }
  });

  it("walks hundreds of metadata areas, reading only header and metadata chunks", async () => {
    const n = 256 * 300 + 17;
    const oldChunks = Array.from({ length: n }, (_, i) => (i * 7919) % (n * 3)); // scattered, distinct
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks });
    const { reads, source } = counting(src(s.bytes));
    const r = await readCowStore(source, { expectExceptions: n });
    expect(r.exceptionCount).toBe(n);
    expect(r.areaCount).toBe(301);
    expect(new Set(r.extents.chunks())).toEqual(new Set(oldChunks));
    for (const [offset, length] of reads) {
      const chunk = offset / 4096;
      expect(chunk === 0 || (chunk - 1) % 257 === 0).toBe(true);
      expect(length).toBeLessThanOrEqual(4096);
    }
    // never more than the read-ahead window past the last area
    expect(reads.length).toBeLessThanOrEqual(1 + 301 + 8);
  });

  it("reads an exactly full last area and the zeroed area after it", async () => {
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: Array.from({ length: 512 }, (_, i) => i) });
    const r = await readCowStore(src(s.bytes));
    expect(r.areaCount).toBe(3);
    expect(r.extents.toJSON()).toEqual([[0, 512]]);
  });

  it("accepts records committed out of allocation order (COW chunk in a neighbouring area's data)", async () => {
    // 257 exceptions: allocation 255 (last data chunk of area 0) commits after 256 (first of area 1)
    const n = 257;
    const order = Array.from({ length: n }, (_, i) => i);
    [order[255], order[256]] = [256, 255];
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: order.map((i) => i * 2), commitOrder: order });
    const r = await readCowStore(src(s.bytes));
    expect(r.exceptionCount).toBe(n);
  });

  it("reads areas handed over at unaligned memory offsets (as a network source may)", async () => {
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: [9, 1, 2, 400] });
    const unaligned: ByteSource = {
      size: async () => s.bytes.length,
      read: async (o, l) => {
        const copy = new Uint8Array(l + 1);
        copy.set(s.bytes.subarray(o, o + l), 1);
        return copy.subarray(1, 1 + Math.min(l, s.bytes.length - o));
      },
    };
    expect((await readCowStore(unaligned)).extents.toJSON()).toEqual([
      [1, 2],
      [9, 1],
      [400, 1],
    ]);
  });

  it("checks old chunks against the origin size when given", async () => {
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: [0, 9] });
    await expect(readCowStore(src(s.bytes), { originBytes: 10 * 4096 })).resolves.toBeDefined();
    await expect(readCowStore(src(s.bytes), { originBytes: 9 * 4096 + 1 })).resolves.toBeDefined(); // partial last chunk
    await expect(readCowStore(src(s.bytes), { originBytes: 9 * 4096 })).rejects.toThrow(CowRecordOutOfRangeError);
  });

  it("reads through a real file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cow-"));
    try {
      const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: [1, 2, 3, 10] });
      const path = join(dir, "cow.img");
      await writeFile(path, s.bytes);
      const f = await fileByteSource(path);
      try {
        const r = await readCowStore(f);
        expect(r.extents.toJSON()).toEqual([
          [1, 3],
          [10, 1],
        ]);
        expect(await f.size()).toBe(s.bytes.length);
        const tail = await f.read(s.bytes.length - 10, 4096);
        expect(tail.length).toBe(10); // short read at EOF
        expect((await f.read(s.bytes.length + 5, 10)).length).toBe(0);
      } finally {
        await f.close();
      }
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe("readCowStore refuses damaged stores", () => {
  const base = () => buildCowStore({ chunkBytes: 4 * K, oldChunks: [5, 6, 7, 50] });
  const setU32 = (b: Uint8Array, off: number, v: number) => new DataView(b.buffer).setUint32(off, v, true);
  const setU64 = (b: Uint8Array, off: number, v: bigint) => new DataView(b.buffer).setBigUint64(off, v, true);

  it("bad magic, and an all-zero header", async () => {
    const s = base();
    setU32(s.bytes, 0, 0x12345678);
    await expect(readCowStore(src(s.bytes))).rejects.toThrow(CowBadMagicError);
    await expect(readCowStore(src(new Uint8Array(65536)))).rejects.toThrow(/never activated/);
  });

  it("unsupported version", async () => {
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: [1], version: 2 });
    await expect(readCowStore(src(s.bytes))).rejects.toThrow(CowUnsupportedVersionError);
  });

  it("chunk sizes LVM cannot make", async () => {
    for (const sectors of [0, 3, 24, 4, 2048]) {
      const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: [1], chunkSectorsOverride: sectors });
      await expect(readCowHeader(src(s.bytes))).rejects.toThrow(CowBadChunkSizeError);
    }
    const s = base();
    await expect(readCowStore(src(s.bytes), { chunkBytes: 8192 })).rejects.toThrow(CowBadChunkSizeError);
  });

  it("invalid (overflowed) snapshot: the header reads, the store does not", async () => {
    const s = buildCowStore({ chunkBytes: 64 * K, oldChunks: [1, 2], valid: 0 });
    expect(await readCowHeader(src(s.bytes))).toEqual({ valid: false, version: 1, chunkBytes: 65536 });
    await expect(readCowStore(src(s.bytes))).rejects.toThrow(CowInvalidSnapshotError);
    const odd = buildCowStore({ chunkBytes: 4 * K, oldChunks: [1], valid: 7 });
    await expect(readCowHeader(src(odd.bytes))).rejects.toThrow(CowCorruptHeaderError);
  });

  it("truncated: header, a needed area, a short last area", async () => {
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: Array.from({ length: 300 }, (_, i) => i) });
    await expect(readCowStore(src(s.bytes.subarray(0, 10)))).rejects.toThrow(CowTruncatedError);
    // area 1 sits at chunk 258: cut the device there
    await expect(readCowStore(src(s.bytes.subarray(0, 258 * 4096)))).rejects.toThrow(CowTruncatedError);
    // a source that returns short reads mid-device
    const lying: ByteSource = {
      size: async () => s.bytes.length,
      read: async (o, l) => s.bytes.subarray(o, o + Math.min(l, o === 258 * 4096 ? 100 : l)),
    };
    await expect(readCowStore(lying)).rejects.toThrow(/short read/);
  });

  it("records pointing past the device, at metadata, or past 2^53", async () => {
    const cases: [number, bigint][] = [
      [recordOffset(base(), 4096, 1) + 8, 10_000n], // past device end
      [recordOffset(base(), 4096, 1) + 8, 1n], // metadata area 0
      [recordOffset(base(), 4096, 1) + 8, 258n], // metadata area 1 (inside device? device is small: past end)
      [recordOffset(base(), 4096, 1), 2n ** 60n], // old chunk past 2^53
    ];
    for (const [off, v] of cases) {
      const s = base();
      setU64(s.bytes, off, v);
      await expect(readCowStore(src(s.bytes))).rejects.toThrow(CowRecordOutOfRangeError);
    }
  });

  it("a metadata-area COW chunk inside a big device", async () => {
    const s = buildCowStore({ chunkBytes: 4 * K, oldChunks: Array.from({ length: 600 }, (_, i) => i) });
    setU64(s.bytes, recordOffset(s, 4096, 3) + 8, 258n);
    await expect(readCowStore(src(s.bytes))).rejects.toThrow(/metadata chunk/);
  });

  it("duplicate origin chunk or duplicate COW chunk", async () => {
    const s = base();
    setU64(s.bytes, recordOffset(s, 4096, 3), 6n);
    await expect(readCowStore(src(s.bytes))).rejects.toThrow(CowDuplicateChunkError);
    const t = base();
    setU64(t.bytes, recordOffset(t, 4096, 3) + 8, 2n);
    await expect(readCowStore(src(t.bytes))).rejects.toThrow(/COW chunk 2/);
  });

  it("a record whose new_chunk was damaged into 0 (would end the list early)", async () => {
    const s = base();
    setU64(s.bytes, recordOffset(s, 4096, 1) + 8, 0n);
    await expect(readCowStore(src(s.bytes))).rejects.toThrow(CowCorruptTerminatorError);
    // damaged last record with old_chunk 0 is the undetectable case; a count check catches it
    const t = buildCowStore({ chunkBytes: 4 * K, oldChunks: [5, 0] });
    setU64(t.bytes, recordOffset(t, 4096, 1) + 8, 0n);
    await expect(readCowStore(src(t.bytes))).resolves.toMatchObject({ exceptionCount: 1 });
    await expect(readCowStore(src(t.bytes), { expectExceptions: 2 })).rejects.toThrow(CowCountMismatchError);
  });

  it("garbage after the terminator", async () => {
    const s = base();
    s.bytes[recordOffset(s, 4096, 200) + 3] = 1;
    await expect(readCowStore(src(s.bytes))).rejects.toThrow(CowCorruptTerminatorError);
  });

  it("all errors carry a stable code", async () => {
    const s = base();
    setU32(s.bytes, 0, 1);
    await readCowStore(src(s.bytes)).then(
      () => expect.unreachable(),
      (e) => expect(e.code).toBe("COW_BAD_MAGIC"),
    );
    expect(ExtentMap.EMPTY.chunkCount).toBe(0);
  });
});

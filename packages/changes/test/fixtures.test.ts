// Stores written by a real kernel (6.1) on lab hosts; see fixtures/README.md for how each was made.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  type ByteSource,
  CowInvalidSnapshotError,
  ExtentMap,
  isMetadataChunk,
  readCowHeader,
  readCowStore,
  readThinDelta,
} from "../src/index.ts";

const dir = join(import.meta.dirname, "fixtures");
const manifest = JSON.parse(readFileSync(join(dir, "fixtures.json"), "utf8"));

interface CowFixture {
  file: string;
  chunkBytes: number;
  deviceBytes: number;
  originBytes: number;
  dmsetupStatus: string;
  dmsetupTable: string;
  written: [number, number][];
  areas: number;
}

/**
 * The fixture files hold the header chunk and metadata areas 0..areas-1 of the COW device, in that order.
 * Data chunks read as zeros; a metadata area the fixture lacks fails the read, so the reader cannot
 * mistake a missing area for an empty one.
 */
function metadataSource(f: { file: string; chunkBytes: number; deviceBytes: number; areas: number }): ByteSource {
  const stored = gunzipSync(readFileSync(join(dir, f.file)));
  const perArea = f.chunkBytes / 16;
  const chunkAt = (chunk: number): Uint8Array => {
    if (chunk === 0) return stored.subarray(0, f.chunkBytes);
    if (!isMetadataChunk(chunk, perArea)) return new Uint8Array(f.chunkBytes);
    const area = (chunk - 1) / (perArea + 1);
    if (area >= f.areas) throw new Error(`fixture ${f.file} lacks metadata area ${area}`);
    return stored.subarray((1 + area) * f.chunkBytes, (2 + area) * f.chunkBytes);
  };
  return {
    size: async () => f.deviceBytes,
    read: async (offset, length) => {
      const end = Math.min(offset + length, f.deviceBytes);
      const out = new Uint8Array(Math.max(0, end - offset));
      for (let pos = offset; pos < end; ) {
        const chunk = Math.floor(pos / f.chunkBytes);
        const within = pos - chunk * f.chunkBytes;
        const take = Math.min(f.chunkBytes - within, end - pos);
        out.set(chunkAt(chunk).subarray(within, within + take), pos - offset);
        pos += take;
      }
      return out;
    },
  };
}

/** (ALLOC - METADATA) / CHUNK_SECTORS from `0 SECTORS snapshot ALLOC/TOTAL METADATA`. */
function exceptionsFromStatus(status: string, chunkBytes: number): number {
  const m = /snapshot (\d+)\/(\d+) (\d+)$/.exec(status);
  if (!m) throw new Error(`not a valid snapshot status: ${status}`);
  return (Number(m[1]) - Number(m[3])) / (chunkBytes / 512);
}

describe("real-kernel COW stores", () => {
  for (const key of ["cow4k", "cow64k", "cow4kManyAreas"]) {
    const f = manifest[key] as CowFixture;
    it(`${key}: ${f.chunkBytes / 1024} KiB chunks, ${f.areas} metadata areas`, async () => {
      const expected = exceptionsFromStatus(f.dmsetupStatus, f.chunkBytes);
      const store = await readCowStore(metadataSource(f), {
        chunkBytes: f.chunkBytes,
        originBytes: f.originBytes,
        expectExceptions: expected,
      });
      expect(store.exceptionCount).toBe(expected);
      expect(store.areaCount).toBe(f.areas);
      // the truth: exactly the chunks the fixture script wrote after taking the snapshot
      expect(store.extents.toJSON()).toEqual(ExtentMap.fromRuns(f.written).toJSON());
      expect(f.dmsetupTable).toMatch(new RegExp(` P ${f.chunkBytes / 512}$`));
    });
  }

  it("cow4kManyAreas spans hundreds of metadata areas", () => {
    expect(manifest.cow4kManyAreas.areas).toBeGreaterThan(300);
  });

  it("overflowed: the header says invalid, the store refuses to read", async () => {
    const f = manifest.overflowed;
    expect(f.dmsetupStatus).toMatch(/Invalid/);
    const source = metadataSource(f);
    expect(await readCowHeader(source)).toEqual({ valid: false, version: 1, chunkBytes: 4096 });
    await expect(readCowStore(source)).rejects.toThrow(CowInvalidSnapshotError);
  });
});

describe("real thin_delta output", () => {
  it("changed blocks are data, discarded blocks are discard", async () => {
    const f = manifest.thin;
    const delta = await readThinDelta(readFileSync(join(dir, f.file), "utf8"));
    expect(delta.blockBytes).toBe(f.blockBytes);
    expect([delta.left, delta.right]).toEqual([f.snap1, f.snap2]);
    expect(delta.data.toJSON()).toEqual(ExtentMap.fromRuns(f.written).toJSON());
    expect(delta.discard.toJSON()).toEqual(ExtentMap.fromRuns(f.discarded).toJSON());
  });
});

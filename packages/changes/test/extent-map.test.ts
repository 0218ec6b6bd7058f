import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeExtentMap,
  ExtentMap,
  ExtentMapBuilder,
  ExtentMapFormatError,
  ExtentRangeError,
  encodeExtentMap,
} from "../src/index.ts";

const setOf = (m: ExtentMap) => new Set(m.chunks());
const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);

// Chunk sets drawn small enough to enumerate, clustered so runs touch, overlap and coalesce.
const chunkList = fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 200 });
const runList = fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 20 })), {
  maxLength: 60,
});
const modelOfRuns = (runs: [number, number][]) => {
  const s = new Set<number>();
  for (const [f, c] of runs) for (let i = f; i < f + c; i++) s.add(i);
  return s;
};
const isCanonical = (m: ExtentMap) => {
  let prevEnd = -1;
  for (const [f, c] of m) {
    if (c < 1 || f <= prevEnd) return false; // f === prevEnd would mean touching runs left uncoalesced
    prevEnd = f + c;
  }
  return true;
};

describe("ExtentMap", () => {
  it("coalesces unordered, overlapping and touching runs", () => {
    const m = ExtentMap.fromRuns([
      [10, 2],
      [0, 3],
      [3, 1],
      [11, 5],
      [30, 0],
      [20, 1],
    ]);
    expect(m.toJSON()).toEqual([
      [0, 4],
      [10, 6],
      [20, 1],
    ]);
    expect(m.chunkCount).toBe(11);
    expect(m.runCount).toBe(3);
    expect(m.byteCount(4096)).toBe(11 * 4096);
    expect(m.end).toBe(21);
    expect(m.has(3)).toBe(true);
    expect(m.has(4)).toBe(false);
    expect(m.has(15)).toBe(true);
    expect(m.has(16)).toBe(false);
  });

  it("keeps chunk numbers up to 2^53 exact", () => {
    const big = 2 ** 52;
    const m = ExtentMap.fromRuns([
      [big, 3],
      [5, 1],
    ]);
    expect(m.toJSON()).toEqual([
      [5, 1],
      [big, 3],
    ]);
    expect(decodeExtentMap(encodeExtentMap(m)).toJSON()).toEqual(m.toJSON());
    expect(() => ExtentMap.fromRuns([[Number.MAX_SAFE_INTEGER, 1]])).toThrow(ExtentRangeError);
    expect(() => ExtentMap.fromRuns([[1.5, 1]])).toThrow(ExtentRangeError);
    expect(() => ExtentMap.fromRuns([[-1, 1]])).toThrow(ExtentRangeError);
  });

  it("splits into runs and batches of bounded size", () => {
    const m = ExtentMap.fromRuns([
      [0, 10],
      [20, 3],
    ]);
    expect([...m.splitRuns(4)]).toEqual([
      [0, 4],
      [4, 4],
      [8, 2],
      [20, 3],
    ]);
    expect([...m.batches(4)].map((b) => b.toJSON())).toEqual([
      [[0, 4]],
      [[4, 4]],
      [
        [8, 2],
        [20, 2],
      ],
      [[22, 1]],
    ]);
    expect(() => [...m.batches(0)]).toThrow(ExtentRangeError);
  });

  it("rejects malformed JSON and buffers with typed errors", () => {
    expect(() => ExtentMap.fromJSON({})).toThrow(ExtentRangeError);
    expect(() => ExtentMap.fromJSON([[1, "2"]])).toThrow(ExtentRangeError);
    expect(() => ExtentMap.fromJSON([[1, 2, 3]])).toThrow(ExtentRangeError);
    expect(() => decodeExtentMap(new Uint8Array([]))).toThrow(ExtentMapFormatError);
    expect(() => decodeExtentMap(new Uint8Array([2, 0]))).toThrow(ExtentMapFormatError);
    expect(() => decodeExtentMap(new Uint8Array([1, 5, 0]))).toThrow(ExtentMapFormatError); // 5 runs in 1 byte
    expect(() => decodeExtentMap(new Uint8Array([1, 1, 0x80]))).toThrow(ExtentMapFormatError); // cut varint
    expect(() => decodeExtentMap(new Uint8Array([1, 0, 0]))).toThrow(ExtentMapFormatError); // trailing byte
  });

  it("encodes alternating single chunks in two bytes a run", () => {
    const b = new ExtentMapBuilder();
    for (let i = 0; i < 10_000; i++) b.add(i * 2);
    const m = b.build();
    expect(m.runCount).toBe(10_000);
    expect(encodeExtentMap(m).length).toBeLessThanOrEqual(2 * 10_000 + 4);
  });

  it("large unordered input (radix-sorted batches, growing batches) equals the set", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.integer(), (range, seed) => {
        let x = seed | 1;
        const chunks = new Set<number>();
        const b = new ExtentMapBuilder(1000);
        for (let i = 0; i < 20_000; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          const c = (x >>> 0) % range;
          b.add(c);
          chunks.add(c);
        }
        const m = b.build();
        expect(m.chunkCount).toBe(chunks.size);
        expect([...m.chunks()]).toEqual(sorted(chunks));
        expect(b.firstOverlap !== undefined).toBe(chunks.size < 20_000);
      }),
      { numRuns: 20 },
    );
  });

  it("reports chunks added twice", () => {
    const b = new ExtentMapBuilder(4); // tiny batches: overlaps found both inside a batch and across batches
    for (const c of [1, 2, 3, 4, 5, 6]) b.add(c);
    expect(b.firstOverlap).toBeUndefined();
    b.add(9);
    b.add(3);
    expect(b.firstOverlap).toBe(3);
  });

  describe("properties against a Set model", () => {
    it("builder == set of added chunks, in any order and batch size", () => {
      fc.assert(
        fc.property(runList, fc.integer({ min: 1, max: 9 }), (runs, batch) => {
          const b = new ExtentMapBuilder(batch);
          for (const [f, c] of runs) b.add(f, c);
          const m = b.build();
          const model = modelOfRuns(runs);
          expect(sorted(setOf(m))).toEqual(sorted(model));
          expect(m.chunkCount).toBe(model.size);
          expect(isCanonical(m)).toBe(true);
          for (let c = 0; c < 330; c++) expect(m.has(c)).toBe(model.has(c));
          // overlap reported iff some chunk was added twice
          const total = runs.reduce((n, [, c]) => n + c, 0);
          expect(b.firstOverlap !== undefined).toBe(total !== model.size);
          if (b.firstOverlap !== undefined) {
            const hits = runs.filter(([f, c]) => f <= (b.firstOverlap as number) && (b.firstOverlap as number) < f + c);
            expect(hits.length).toBeGreaterThan(1);
          }
        }),
      );
    });

    it("union, subtract, intersect match set algebra", () => {
      fc.assert(
        fc.property(runList, runList, (ra, rb) => {
          const a = ExtentMap.fromRuns(ra);
          const b = ExtentMap.fromRuns(rb);
          const sa = modelOfRuns(ra);
          const sb = modelOfRuns(rb);
          const u = a.union(b);
          const d = a.subtract(b);
          const i = a.intersect(b);
          expect(sorted(setOf(u))).toEqual(sorted(new Set([...sa, ...sb])));
          expect(sorted(setOf(d))).toEqual(sorted(new Set([...sa].filter((x) => !sb.has(x)))));
          expect(sorted(setOf(i))).toEqual(sorted(new Set([...sa].filter((x) => sb.has(x)))));
          for (const m of [u, d, i]) expect(isCanonical(m)).toBe(true);
          expect(u.chunkCount).toBe(d.chunkCount + b.chunkCount);
        }),
      );
    });

    it("batches and split runs cover the map exactly, each within the limit", () => {
      fc.assert(
        fc.property(runList, fc.integer({ min: 1, max: 25 }), (runs, max) => {
          const m = ExtentMap.fromRuns(runs);
          const batches = [...m.batches(max)];
          let all = ExtentMap.EMPTY;
          let seen = 0;
          for (const b of batches) {
            expect(b.chunkCount).toBeGreaterThan(0);
            expect(b.chunkCount).toBeLessThanOrEqual(max);
            expect(b.intersect(all).isEmpty).toBe(true);
            all = all.union(b);
            seen += b.chunkCount;
          }
          expect(all.equals(m)).toBe(true);
          expect(seen).toBe(m.chunkCount);
          // only the last batch may be short
          for (const b of batches.slice(0, -1)) expect(b.chunkCount).toBe(max);
          const pieces = [...m.splitRuns(max)];
          expect(pieces.every(([, c]) => c >= 1 && c <= max)).toBe(true);
          expect(ExtentMap.fromRuns(pieces).equals(m)).toBe(true);
        }),
      );
    });

    it("buffer and JSON round trips are exact", () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 20 }))),
          (runs) => {
            const m = ExtentMap.fromRuns(runs);
            expect(decodeExtentMap(encodeExtentMap(m)).equals(m)).toBe(true);
            expect(ExtentMap.fromJSON(JSON.parse(JSON.stringify(m))).equals(m)).toBe(true);
          },
        ),
      );
    });

    it("a damaged buffer decodes to an error or a canonical map, never a crash", () => {
      fc.assert(
        fc.property(chunkList, fc.nat(), fc.integer({ min: 1, max: 255 }), (chunks, at, x) => {
          const buf = encodeExtentMap(ExtentMap.fromChunks(chunks));
          const i = at % buf.length;
          buf[i] = (buf[i] as number) ^ x;
          try {
            expect(isCanonical(decodeExtentMap(buf))).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(ExtentMapFormatError);
          }
        }),
      );
    });
  });

  it("switches to 64-bit storage only when a run ends past 2^32", () => {
    const runs = (last: number) => Array.from({ length: 1000 }, (_, i): [number, number] => [last - 2 * i, 1]);
    const small = ExtentMap.fromRuns(runs(2 ** 32 - 2));
    expect(small.storageBytes).toBe(8 * 1000);
    const big = ExtentMap.fromRuns(runs(2 ** 32 - 1));
    expect(big.storageBytes).toBe(16 * 1000);
    expect(big.union(small).toJSON()).toEqual([[2 ** 32 - 2000, 2000]]);
  });
});

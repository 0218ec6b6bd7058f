// Mutates kernel-layout stores and checks the reader never presents a wrong answer as right.
// "Right" is what the kernel itself would load from the same bytes (kernelView): the format has no
// checksums, so a flip that turns one plausible record into another plausible record is, to the kernel
// too, simply a different store. The reader must then either agree with the kernel or throw a typed error,
// and what it accepts must still be a store the kernel could have written (implausibility): damage that
// breaks an invariant of the kernel's writer is detectable, so it must be detected.
// Where the mutation cannot change what the kernel loads (data chunks, truncating unused space) the
// reader must return exactly the original truth.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { areaChunk } from "../src/cow-layout.ts";
import { bufferByteSource, ChangesError, type CowStoreOptions, readCowStore } from "../src/index.ts";
import { type BuiltStore, buildCowStore, implausibility, kernelView, recordOffset } from "./helpers/cow-writer.ts";

const storeArb = fc
  .record({
    chunkBytes: fc.constantFrom(4096, 8192),
    oldChunks: fc.uniqueArray(fc.integer({ min: 0, max: 4000 }), { maxLength: 700, size: "max" }),
    swaps: fc.array(fc.nat(), { maxLength: 20 }),
  })
  .map(({ chunkBytes, oldChunks, swaps }) => {
    // out-of-order commits: swap neighbouring allocations, as concurrent copies finishing out of order do
    const order = oldChunks.map((_, i) => i);
    for (const s of swaps) {
      if (order.length < 2) break;
      const i = s % (order.length - 1);
      [order[i], order[i + 1]] = [order[i + 1] as number, order[i] as number];
    }
    return { chunkBytes, oldChunks, store: buildCowStore({ chunkBytes, oldChunks, commitOrder: order }) };
  });

// Real data chunks are often zero: draw the fill too.
const storeArbWithFill = fc.tuple(storeArb, fc.constantFrom(0, 0xa5)).map(([s, fill]) => {
  if (fill === 0xa5) return s;
  const bytes = s.store.bytes;
  const meta = metadataChunks(s.store);
  for (let c = 1; c * s.chunkBytes < bytes.length; c++) {
    if (!meta.has(c)) bytes.fill(0, c * s.chunkBytes, (c + 1) * s.chunkBytes);
  }
  return s;
});

/** Chunks the kernel reads: the header and the metadata areas up to the last one in use. */
function metadataChunks(store: BuiltStore): Set<number> {
  const s = new Set([0]);
  for (let a = 0; a < store.areas; a++) s.add(areaChunk(a, store.perArea));
  return s;
}

type Outcome = { ok: true; chunks: Set<bigint> } | { ok: false; error: unknown };

async function read(bytes: Uint8Array, opts: CowStoreOptions = {}): Promise<Outcome> {
  try {
    const r = await readCowStore(bufferByteSource(bytes), opts);
    return { ok: true, chunks: new Set([...r.extents.chunks()].map(BigInt)) };
  } catch (error) {
    return { ok: false, error };
  }
}

function expectTypedError(o: Outcome): void {
  if (o.ok) return;
  expect(o.error).toBeInstanceOf(ChangesError);
  expect((o.error as ChangesError).code).toMatch(/^COW_/);
}

const truthOf = (oldChunks: number[]) => new Set(oldChunks.map(BigInt));
// Fixed seed so CI is repeatable. To explore: BF_FUZZ_SEED=<n> picks another seed for every property,
// BF_FUZZ_SCALE=<k> multiplies every numRuns.
function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
}
const SEED = envNumber("BF_FUZZ_SEED", 20261126);
const SCALE = envNumber("BF_FUZZ_SCALE", 1);
const runs = (numRuns: number) => ({ numRuns: numRuns * SCALE, seed: SEED });
const RUNS = runs(150);

describe("COW reader under mutation", () => {
  it("unmutated stores read exactly as the kernel reads them", async () => {
    await fc.assert(
      fc.asyncProperty(storeArb, async ({ chunkBytes, oldChunks, store }) => {
        const o = await read(store.bytes);
        expect(o).toEqual({ ok: true, chunks: truthOf(oldChunks) });
        expect(kernelView(store.bytes)).toEqual(truthOf(oldChunks));
        expect(implausibility(store.bytes, chunkBytes)).toBeUndefined();
      }),
      RUNS,
    );
  });

  it("damage to data chunks is harmless: exactly the truth, never an error", async () => {
    await fc.assert(
      fc.asyncProperty(
        storeArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 20 }),
        async ({ chunkBytes, oldChunks, store }, flips) => {
          const meta = metadataChunks(store);
          const bytes = store.bytes.slice();
          for (const [at, x] of flips) {
            const i = at % bytes.length;
            if (meta.has(Math.floor(i / chunkBytes))) continue;
            bytes[i] = (bytes[i] as number) ^ x;
          }
          expect(await read(bytes)).toEqual({ ok: true, chunks: truthOf(oldChunks) });
        },
      ),
      RUNS,
    );
  });

  it("flipped bytes in header or metadata: a typed error, or the truth, or undetectable damage the kernel shares", async () => {
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(
        storeArbWithFill,
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        async ({ chunkBytes, oldChunks, store }, flips) => {
          const meta = [...metadataChunks(store)];
          const bytes = store.bytes.slice();
          for (const [which, at, x] of flips) {
            const chunk = meta[which % meta.length] as number;
            // aim at bytes that matter: the header fields, or the used records (and just past them)
            const span = chunk === 0 ? 16 : Math.min(chunkBytes, (oldChunks.length + 2) * 16);
            const i = chunk * chunkBytes + (at % span);
            bytes[i] = (bytes[i] as number) ^ x;
          }
          // callers pass the chunk size from `dmsetup table`: without it a flipped chunk size can move
          // area 0 onto an all-zero data chunk, which reads as an empty store
          const o = await read(bytes, { chunkBytes });
          expectTypedError(o);
          if (!o.ok) {
            rejected++;
            return;
          }
          accepted++;
          expect(o.chunks).toEqual(kernelView(bytes));
          // Accepted damage must be damage no reader can see: bytes that are still a store the kernel could
          // have written. Only such damage may change the answer (and then the kernel shares it, above).
          // Judged on the whole damaged store, not byte by byte: an answer differs through old_chunk flips
          // or a moved end of the list, and flips in new_chunk fields can ride along, e.g. record (1 -> 2)
          // flipped into (0 -> 3): one plausible record into another, chunk 2 then an unused hole as a crash
          // leaves (seed 91129265). Also the last record zeroed into the end of the list, or a plausible
          // record written over the end of the list.
          expect(implausibility(bytes, chunkBytes)).toBeUndefined();
        },
      ),
      runs(400),
    );
    expect(rejected).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);
  });

  it("a record flipped into another plausible record is undetectable (seed 91129265's counterexample)", async () => {
    const store = buildCowStore({ chunkBytes: 4096, oldChunks: [1] }); // record (1 -> 2), 6 chunks
    const at = recordOffset(store, 4096, 0);
    const bytes = store.bytes.slice();
    bytes[at] = 0; // old_chunk 1 -> 0
    bytes[at + 8] = 3; // new_chunk 2 -> 3: a data chunk no other record uses; chunk 2 becomes a hole
    // The kernel loads this (insert_exceptions checks only new_chunk != 0) and remaps origin chunk 0.
    expect(kernelView(bytes)).toEqual(new Set([0n]));
    expect(await read(bytes, { chunkBytes: 4096 })).toEqual({ ok: true, chunks: new Set([0n]) });
    expect(implausibility(bytes, 4096)).toBeUndefined();
    // The same record pointing at a metadata chunk: no kernel writes that, and the reader refuses it.
    bytes[at + 8] = 1;
    expect(implausibility(bytes, 4096)).toMatch(/metadata chunk/);
    expect((await read(bytes, { chunkBytes: 4096 })).ok).toBe(false);
    // Non-zero bytes after the end of the list, which the kernel keeps zero: refused too.
    bytes[at + 8] = 3;
    bytes[at + 40] = 1;
    expect(implausibility(bytes, 4096)).toMatch(/not zero/);
    expect((await read(bytes, { chunkBytes: 4096 })).ok).toBe(false);
  });

  it("without the expected chunk size, a flipped header chunk size over zeroed data is the one silent failure", async () => {
    const store = buildCowStore({ chunkBytes: 4096, oldChunks: [1, 2, 3], dataFill: 0, spareChunks: 40 });
    const bytes = store.bytes.slice();
    new DataView(bytes.buffer).setUint32(12, 16, true); // 8 sectors -> 16 sectors: one bit
    expect((await read(bytes)).ok).toBe(true); // reads as an empty 8 KiB store, exactly as the kernel would
    expect(kernelView(bytes)).toEqual(new Set());
    const guarded = await read(bytes, { chunkBytes: 4096 });
    expect(guarded.ok).toBe(false);
  });

  it("records overwritten with random values: a typed error, or what the kernel would load", async () => {
    await fc.assert(
      fc.asyncProperty(
        storeArb,
        fc.nat(),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.boolean(),
        async ({ chunkBytes, oldChunks, store }, k, value, newField) => {
          if (oldChunks.length === 0) return;
          const r = k % oldChunks.length;
          const off = areaChunk(Math.floor(r / store.perArea), store.perArea) * chunkBytes + (r % store.perArea) * 16;
          const bytes = store.bytes.slice();
          new DataView(bytes.buffer).setBigUint64(off + (newField ? 8 : 0), value, true);
          const o = await read(bytes);
          expectTypedError(o);
          if (o.ok) {
            expect(o.chunks).toEqual(kernelView(bytes));
            expect(implausibility(bytes, chunkBytes)).toBeUndefined();
          }
        },
      ),
      RUNS,
    );
  });

  it("truncated stores: a typed error, or the truth when only unused space was cut", async () => {
    await fc.assert(
      fc.asyncProperty(storeArb, fc.nat(), async ({ oldChunks, store }, at) => {
        const len = at % (store.bytes.length + 1);
        const o = await read(store.bytes.subarray(0, len));
        expectTypedError(o);
        if (o.ok) expect(o.chunks).toEqual(truthOf(oldChunks));
      }),
      RUNS,
    );
  });
});

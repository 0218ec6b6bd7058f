// The server side of the record stream, fed from memory: which records a batch turns into, what is held, and
// that a short or long source never produces an end record.
import { createHash, randomBytes } from "node:crypto";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { TruncatedStreamError } from "../../src/transfer/errors.ts";
import { pumpRecords, type RecordOptions, type Segment } from "../../src/transfer/records.ts";

const K = 1024;
const signal = new AbortController().signal;

/** Splits what the target would receive into records (header + payload). */
function parseRecords(stream: Buffer): { kind: string; offset: number; length: number; data?: Buffer }[] {
  const out: { kind: string; offset: number; length: number; data?: Buffer }[] = [];
  let at = 0;
  while (at < stream.length) {
    const nl = stream.indexOf(10, at);
    const [kind, o, l] = stream.subarray(at, nl).toString().split(" ");
    at = nl + 1;
    if (kind === "e") {
      out.push({ kind, offset: 0, length: 0 });
      continue;
    }
    const length = Number(l);
    if (kind === "d") {
      out.push({ kind, offset: Number(o), length, data: stream.subarray(at, at + length) });
      at += length;
    } else out.push({ kind: kind as string, offset: Number(o), length });
  }
  return out;
}

async function run(input: Buffer, segments: Segment[], opts: Partial<RecordOptions> = {}, chunk = 3000) {
  const from = Readable.from(
    (function* () {
      for (let i = 0; i < input.length; i += chunk) yield input.subarray(i, i + chunk);
    })(),
  );
  const to = new PassThrough();
  const received: Buffer[] = [];
  to.on("data", (b: Buffer) => received.push(b));
  const result = await pumpRecords(
    "src",
    from,
    to,
    segments,
    {
      blockBytes: 16 * K,
      detectZeroes: true,
      skipZeroes: false,
      maxRecordBytes: 64 * K,
      hashAlgorithm: "blake2b512",
      ...opts,
    },
    signal,
  );
  return { result, records: parseRecords(Buffer.concat(received)) };
}

describe("record stream", () => {
  it("sends each data block as a record, gathers zero blocks into zero records, in device order", async () => {
    const data = randomBytes(200 * K);
    data.fill(0, 32 * K, 80 * K); // three whole zero blocks
    data.fill(0, 96 * K, 104 * K); // the start of a block: still data, its zeroes sent too
    const { result, records } = await run(data, [{ offset: 1024 * K, length: data.length, source: "read" }]);
    const dataBlocks = (from: number, to: number) =>
      Array.from({ length: Math.ceil((to - from) / (16 * K)) }, (_, i) => {
        const o = from + i * 16 * K;
        return ["d", o, Math.min(16 * K, to - o)];
      });
    expect(records.map((r) => [r.kind, r.offset - (r.kind === "e" ? 0 : 1024 * K), r.length])).toEqual([
      ...dataBlocks(0, 32 * K),
      ["z", 32 * K, 48 * K],
      ...dataBlocks(80 * K, 200 * K),
      ["e", 0, 0],
    ]);
    expect(result.dataRuns).toEqual([
      [1024 * K, 32 * K],
      [1104 * K, 120 * K],
    ]);
    const sent = Buffer.concat(records.flatMap((r) => (r.data ? [r.data] : [])));
    expect(sent.equals(Buffer.concat([data.subarray(0, 32 * K), data.subarray(80 * K)]))).toBe(true);
    expect(result.hash).toBe(createHash("blake2b512").update(sent).digest("hex"));
    expect(result).toMatchObject({ bytesRead: data.length, bytesSent: sent.length, bytesZeroed: 48 * K });
    expect(result.zeroRuns).toEqual([[1056 * K, 48 * K]]);
  });

  it("aligns blocks to device offsets, interleaves known-zero segments, and skips zeroes for a target that reads them", async () => {
    const data = Buffer.concat([randomBytes(8 * K), Buffer.alloc(24 * K), randomBytes(4 * K)]);
    const { result, records } = await run(
      data,
      [
        { offset: 8 * K, length: 32 * K, source: "read" }, // blocks: 8-16 K, 16-32 K, 32-40 K
        { offset: 40 * K, length: 100 * K, source: "zero" },
        { offset: 140 * K, length: 4 * K, source: "read" },
      ],
      { skipZeroes: true },
    );
    expect(records.map((r) => [r.kind, r.offset, r.length])).toEqual([
      ["d", 8 * K, 8 * K],
      ["d", 140 * K, 4 * K],
      ["e", 0, 0],
    ]);
    expect(result.bytesSkipped).toBe(124 * K);
    expect(result.zeroRuns).toEqual([]);
  });

  it("sends zero blocks as data, in records of maxRecordBytes, when detection is off", async () => {
    const { records } = await run(Buffer.alloc(80 * K), [{ offset: 0, length: 80 * K, source: "read" }], {
      detectZeroes: false,
    });
    expect(records.map((r) => [r.kind, r.length])).toEqual([
      ["d", 64 * K],
      ["d", 16 * K],
      ["e", 0],
    ]);
  });

  it("a source that ends early or runs long is an error and the target never gets an end record", async () => {
    for (const extra of [-512, 512]) {
      const to = new PassThrough();
      const got: Buffer[] = [];
      to.on("data", (b: Buffer) => got.push(b));
      const input = randomBytes(32 * K + extra);
      const p = pumpRecords(
        "src",
        Readable.from([input]),
        to,
        [{ offset: 0, length: 32 * K, source: "read" }],
        { blockBytes: 16 * K, detectZeroes: true, skipZeroes: false, maxRecordBytes: 64 * K, hashAlgorithm: "sha256" },
        signal,
      );
      await expect(p).rejects.toBeInstanceOf(TruncatedStreamError);
      expect(Buffer.concat(got).toString("latin1")).not.toMatch(/\ne\n$/);
    }
  });
});

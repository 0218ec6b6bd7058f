import { ExtentMap } from "@blockferry/changes";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { closeGaps, toMapRuns } from "../../src/jobs/transfer-mover.ts";

describe("closeGaps", () => {
  it("merges runs separated by at most the gap, keeps the others", () => {
    const m = ExtentMap.fromRuns([
      [0, 2],
      [4, 1],
      [20, 3],
      [24, 1],
    ]);
    expect(closeGaps(m, 2).toJSON()).toEqual([
      [0, 5],
      [20, 5],
    ]);
    expect(closeGaps(m, 0).toJSON()).toEqual(m.toJSON());
  });

  it("always covers every changed chunk and adds only gap chunks", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(5000), { maxLength: 300 }), fc.nat(20), (chunks, gap) => {
        const m = ExtentMap.fromChunks(chunks);
        const closed = closeGaps(m, gap);
        expect(m.subtract(closed).isEmpty).toBe(true);
        // Every added chunk lies in a gap of at most `gap` chunks between two changed ones.
        closed.subtract(m).forEachRun((first, count) => {
          expect(count).toBeLessThanOrEqual(gap);
          expect(m.has(first - 1) && m.has(first + count)).toBe(true);
        });
      }),
    );
  });
});

describe("toMapRuns", () => {
  it("converts runs to covering cells of another size", () => {
    expect(
      toMapRuns(
        [
          [3, 2],
          [100, 1],
        ],
        4096,
        65536,
      ),
    ).toEqual([
      [0, 1],
      [6, 1],
    ]);
    expect(toMapRuns([[0, 32]], 65536, 1 << 20)).toEqual([[0, 2]]);
  });
});

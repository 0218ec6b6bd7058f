import { ExtentMap } from "@blockferry/changes";
import { describe, expect, it } from "vitest";
import { buildChunkMap, toMapCells } from "../../src/jobs/chunk-map.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const cell = 64 * KiB;
const row = (pass: string, offset: number, length: number, confirmed: boolean) => ({ pass, offset, length, confirmed });

describe("chunk map from the journal", () => {
  // 1 MiB: 16 cells of 64 KiB, copied whole in two ranges.
  const full = [row("full-g1", 0, 512 * KiB, true), row("full-g1", 512 * KiB, 512 * KiB, true)];

  it("shows a final delta's ranges as changed while they are planned, verified once confirmed", () => {
    const planned = [row("final", 2 * cell, 2 * cell, false), row("final", 10 * cell, cell, false)];
    expect(buildChunkMap([...full, ...planned], MiB, "final_delta")).toEqual({
      chunkBytes: cell,
      totalChunks: 16,
      copied: [
        [0, 2],
        [4, 6],
        [11, 5],
      ],
      changed: [
        [2, 2],
        [10, 1],
      ],
      verified: [],
    });
    const halfDone = [row("final", 2 * cell, 2 * cell, true), row("final", 10 * cell, cell, false)];
    const m = buildChunkMap([...full, ...halfDone], MiB, "final_delta");
    expect(m.changed).toEqual([[10, 1]]);
    expect(m.verified).toEqual([[2, 2]]);
  });

  it("lets a later pass's news win: a cell a catch-up verified and the final delta plans again is changed", () => {
    const rows = [row("final", 3 * cell, cell, false), ...full, row("catchup-1", 2 * cell, 2 * cell, true)];
    const m = buildChunkMap(rows, MiB, "final_delta");
    expect(m.verified).toEqual([[2, 1]]);
    expect(m.changed).toEqual([[3, 1]]);
  });

  it("counts the whole volume verified from start_vm on", () => {
    const m = buildChunkMap([...full, row("final", 0, cell, true)], MiB, "done");
    expect(m).toMatchObject({ copied: [], changed: [], verified: [[0, 16]] });
  });

  it("leaves cells nobody copied pending", () => {
    const m = buildChunkMap(
      [row("full-g1", 0, 512 * KiB, true), row("full-g1", 512 * KiB, 512 * KiB, false)],
      MiB,
      "full_copy",
    );
    expect(m).toMatchObject({ copied: [[0, 8]], changed: [], verified: [] });
  });
});

describe("live changed cells", () => {
  const full = [row("full-g1", 0, MiB, true)];

  it("shows what the snapshot recorded as changed on top of copied, until the verify is done", () => {
    const m = buildChunkMap(full, MiB, "wait_cutover", [
      [3, 2],
      [15, 4],
    ]);
    expect(m.changed).toEqual([
      [3, 2],
      [15, 1],
    ]);
    expect(m.copied).toEqual([
      [0, 3],
      [5, 10],
    ]);
    expect(buildChunkMap(full, MiB, "start_vm", [[3, 2]]).changed).toEqual([]);
  });

  it("maps snapshot chunks to map cells, and merges the smallest gaps down to the cap", () => {
    // 4 KiB chunks into 64 KiB cells: chunks 0-1 and 15-16 touch cells 0 and 0-1; chunk 160 is cell 10.
    const extents = ExtentMap.fromRuns([
      [0, 2],
      [15, 2],
      [160, 1],
    ]);
    expect(toMapCells(extents, 4 * KiB, cell)).toEqual([
      [0, 2],
      [10, 1],
    ]);
    const scattered = ExtentMap.fromRuns([
      [0, 1],
      [2, 1],
      [10, 1],
      [11 + 1, 1],
      [40, 1],
    ]);
    const capped = toMapCells(scattered, cell, cell, 3);
    expect(capped.length).toBeLessThanOrEqual(3);
    // Never less than was recorded: every recorded cell is inside a run.
    for (const [first] of scattered.toJSON()) expect(capped.some(([a, n]) => first >= a && first < a + n)).toBe(true);
  });
});

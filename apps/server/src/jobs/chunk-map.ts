import { type ExtentMap, ExtentMapBuilder } from "@blockferry/changes";
import type { ChunkMap } from "@blockferry/contracts";
import type { JournalRow } from "../db/repositories/chunk-map.ts";
import { comparePasses } from "./migration-report.ts";
import { mapChunkBytes } from "./phases/shared.ts";

const AFTER_VERIFY = new Set(["start_vm", "cleanup", "done"]);

const PENDING = 0;
const COPIED = 1;
const CHANGED = 2;
const VERIFIED = 3;

/**
 * Folds the transfer journal into map cells, pass by pass in the order the passes ran, so each cell shows its
 * latest news and the three lists never overlap: a full copy's confirmed ranges are "copied"; a catch-up or final
 * pass's planned ranges are "changed" (written since they were copied) until the target's read-back hash confirms
 * them, then "verified". After the verify phase the whole volume counts as verified. `liveChanged` (cells the
 * current snapshot recorded, read while the VM runs) are "changed" on top, until a pass plans them.
 */
export function buildChunkMap(
  rows: readonly JournalRow[],
  sizeBytes: number,
  phase: string,
  liveChanged: ReadonlyArray<readonly [number, number]> = [],
): ChunkMap {
  const cell = mapChunkBytes(sizeBytes);
  const totalChunks = Math.ceil(sizeBytes / cell);
  const states = new Uint8Array(totalChunks);
  const ordered = [...rows].sort((a, b) => comparePasses(a.pass, b.pass) || a.offset - b.offset);
  for (const r of ordered) {
    const full = r.pass.startsWith("full");
    // An unconfirmed range of a full copy tells nothing new about its cells.
    if (full && !r.confirmed) continue;
    const state = full ? COPIED : r.confirmed ? VERIFIED : CHANGED;
    const first = Math.floor(r.offset / cell);
    const end = Math.min(totalChunks, Math.ceil((r.offset + r.length) / cell));
    states.fill(state, first, end);
  }
  if (AFTER_VERIFY.has(phase)) states.fill(VERIFIED);
  else for (const [first, count] of liveChanged) states.fill(CHANGED, first, Math.min(totalChunks, first + count));
  const builders = [null, new ExtentMapBuilder(), new ExtentMapBuilder(), new ExtentMapBuilder()] as const;
  let start = 0;
  for (let i = 1; i <= totalChunks; i++) {
    if (i < totalChunks && states[i] === states[start]) continue;
    const s = states[start] as number;
    if (s !== PENDING) builders[s]?.add(start, i - start);
    start = i;
  }
  return {
    chunkBytes: cell,
    totalChunks,
    copied: builders[COPIED].build().toJSON(),
    changed: builders[CHANGED].build().toJSON(),
    verified: builders[VERIFIED].build().toJSON(),
  };
}

/** Most live "changed" runs a job row stores: a scattered writer's cells are merged across the smallest gaps. */
export const LIVE_CELL_RUNS = 2000;

/**
 * Snapshot chunks as map cells [firstCell, cellCount], merged across the smallest gaps until at most `cap` runs
 * remain (the map then shows a little more as changed than is, never less).
 */
export function toMapCells(
  extents: ExtentMap,
  chunkBytes: number,
  cellBytes: number,
  cap = LIVE_CELL_RUNS,
): Array<[number, number]> {
  let runs: Array<[number, number]> = [];
  extents.forEachRun((first, count) => {
    const a = Math.floor((first * chunkBytes) / cellBytes);
    const b = Math.ceil(((first + count) * chunkBytes) / cellBytes);
    const last = runs[runs.length - 1];
    if (last && a <= last[0] + last[1]) last[1] = Math.max(last[1], b - last[0]);
    else runs.push([a, b - a]);
  });
  while (runs.length > cap) {
    const gaps = runs
      .slice(1)
      .map((r, i) => r[0] - ((runs[i] as [number, number])[0] + (runs[i] as [number, number])[1]));
    const limit = [...gaps].sort((x, y) => x - y)[runs.length - cap - 1] as number;
    const merged: Array<[number, number]> = [];
    for (const r of runs) {
      const last = merged[merged.length - 1];
      if (last && r[0] - (last[0] + last[1]) <= limit) last[1] = r[0] + r[1] - last[0];
      else merged.push([r[0], r[1]]);
    }
    runs = merged;
  }
  return runs;
}

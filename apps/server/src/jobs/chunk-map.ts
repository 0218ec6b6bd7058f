import { ExtentMapBuilder } from "@blockferry/changes";
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
 * them, then "verified". After the verify phase the whole volume counts as verified.
 */
export function buildChunkMap(rows: readonly JournalRow[], sizeBytes: number, phase: string): ChunkMap {
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

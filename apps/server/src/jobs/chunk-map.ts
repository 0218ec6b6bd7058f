import { ExtentMapBuilder } from "@blockferry/changes";
import type { ChunkMap } from "@blockferry/contracts";
import type { JournalRow } from "../db/repositories/chunk-map.ts";
import { mapChunkBytes } from "./phases/shared.ts";

const AFTER_VERIFY = new Set(["start_vm", "cleanup", "done"]);

/**
 * Folds the transfer journal into map cells: full-copy passes give "copied", catch-up and final passes give
 * "changed" (planned) and, once confirmed by the target's read-back hash, "verified". After the verify phase
 * the whole volume counts as verified.
 */
export function buildChunkMap(rows: readonly JournalRow[], sizeBytes: number, phase: string): ChunkMap {
  const cell = mapChunkBytes(sizeBytes);
  const totalChunks = Math.ceil(sizeBytes / cell);
  const copied = new ExtentMapBuilder();
  const changed = new ExtentMapBuilder();
  const verified = new ExtentMapBuilder();
  for (const r of rows) {
    const first = Math.floor(r.offset / cell);
    const count = Math.ceil((r.offset + r.length) / cell) - first;
    if (r.pass.startsWith("full")) {
      if (r.confirmed) copied.add(first, count);
    } else {
      changed.add(first, count);
      if (r.confirmed) verified.add(first, count);
    }
  }
  if (AFTER_VERIFY.has(phase) && totalChunks > 0) verified.add(0, totalChunks);
  return {
    chunkBytes: cell,
    totalChunks,
    copied: copied.build().toJSON(),
    changed: changed.build().toJSON(),
    verified: verified.build().toJSON(),
  };
}

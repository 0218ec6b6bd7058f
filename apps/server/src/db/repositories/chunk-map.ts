import { and, asc, eq } from "drizzle-orm";
import type { Db } from "../open.ts";
import { transferRanges } from "../schema.ts";

export interface JournalRow {
  /** The disk of a job's set (0 for a one-disk job). */
  disk?: number;
  pass: string;
  offset: number;
  length: number;
  confirmed: boolean;
}

/** A job's journaled ranges: one disk's for the dashboard's chunk map, or every disk's for its report. */
export function createChunkMapRepo(db: Db) {
  return {
    /** One disk's ranges by offset; with no disk, every disk's, disk by disk, each by offset. */
    rangesOf(jobId: number, disk?: number): JournalRow[] {
      const ofJob = eq(transferRanges.jobId, jobId);
      return db
        .select({
          disk: transferRanges.disk,
          pass: transferRanges.pass,
          offset: transferRanges.offset,
          length: transferRanges.length,
          confirmedAt: transferRanges.confirmedAt,
        })
        .from(transferRanges)
        .where(disk === undefined ? ofJob : and(ofJob, eq(transferRanges.disk, disk)))
        .orderBy(asc(transferRanges.disk), asc(transferRanges.offset))
        .all()
        .map((r) => ({
          disk: r.disk,
          pass: r.pass,
          offset: r.offset,
          length: r.length,
          confirmed: r.confirmedAt !== null,
        }));
    },
  };
}
export type ChunkMapRepo = ReturnType<typeof createChunkMapRepo>;

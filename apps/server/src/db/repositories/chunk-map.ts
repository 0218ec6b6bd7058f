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

/** Every journaled range of one disk of a job, for the dashboard's chunk map. */
export function createChunkMapRepo(db: Db) {
  return {
    rangesOf(jobId: number, disk = 0): JournalRow[] {
      return db
        .select({
          pass: transferRanges.pass,
          offset: transferRanges.offset,
          length: transferRanges.length,
          confirmedAt: transferRanges.confirmedAt,
        })
        .from(transferRanges)
        .where(and(eq(transferRanges.jobId, jobId), eq(transferRanges.disk, disk)))
        .orderBy(asc(transferRanges.offset))
        .all()
        .map((r) => ({ pass: r.pass, offset: r.offset, length: r.length, confirmed: r.confirmedAt !== null }));
    },
    /** Every journaled range of every disk of a job, disk by disk, each by offset: what its report sums. */
    rangesOfJob(jobId: number): JournalRow[] {
      return db
        .select({
          disk: transferRanges.disk,
          pass: transferRanges.pass,
          offset: transferRanges.offset,
          length: transferRanges.length,
          confirmedAt: transferRanges.confirmedAt,
        })
        .from(transferRanges)
        .where(eq(transferRanges.jobId, jobId))
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

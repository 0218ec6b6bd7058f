import { asc, eq } from "drizzle-orm";
import type { Db } from "../open.ts";
import { transferRanges } from "../schema.ts";

export interface JournalRow {
  pass: string;
  offset: number;
  length: number;
  confirmed: boolean;
}

/** Every journaled range of a job, for the dashboard's chunk map. */
export function createChunkMapRepo(db: Db) {
  return {
    rangesOf(jobId: number): JournalRow[] {
      return db
        .select({
          pass: transferRanges.pass,
          offset: transferRanges.offset,
          length: transferRanges.length,
          confirmedAt: transferRanges.confirmedAt,
        })
        .from(transferRanges)
        .where(eq(transferRanges.jobId, jobId))
        .orderBy(asc(transferRanges.offset))
        .all()
        .map((r) => ({ pass: r.pass, offset: r.offset, length: r.length, confirmed: r.confirmedAt !== null }));
    },
  };
}
export type ChunkMapRepo = ReturnType<typeof createChunkMapRepo>;

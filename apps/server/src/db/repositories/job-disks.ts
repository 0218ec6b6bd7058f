import { PhaseState } from "@blockferry/contracts";
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Db } from "../open.ts";
import { jobDisks, jobs } from "../schema.ts";
import { checkStored } from "../stored-json.ts";
import { LeaseLostError } from "./jobs.ts";

export type JobDiskRow = typeof jobDisks.$inferSelect;

const checkDisk = (row: JobDiskRow): JobDiskRow => {
  checkStored(PhaseState, row.phaseState, {
    table: "job_disks",
    rowId: row.jobId,
    column: `phase_state (disk ${row.index})`,
  });
  return row;
};

/** SQL for a migration's disks; a runner's writes hold only while it holds the job's lease. */
export function createJobDisksRepo(db: Db) {
  return {
    /** The job's disks, disk 0 first. */
    list(jobId: number): JobDiskRow[] {
      return db
        .select()
        .from(jobDisks)
        .where(eq(jobDisks.jobId, jobId))
        .orderBy(asc(jobDisks.index))
        .all()
        .map(checkDisk);
    },
    /** Stores a disk's phase state (disks 1..; disk 0's is the job's), conditional on the job's lease. */
    saveState(jobId: number, index: number, owner: string, state: PhaseState): void {
      const leaseHeld = sql`exists (select 1 from ${jobs} where ${jobs.id} = ${jobId} and ${jobs.leaseOwner} = ${owner})`;
      const r = db
        .update(jobDisks)
        .set({ phaseState: state })
        .where(and(eq(jobDisks.jobId, jobId), eq(jobDisks.index, index), leaseHeld))
        .run();
      if (r.changes !== 1) throw new LeaseLostError(jobId);
    },
    /**
     * Records that a disk's kept source LV was removed (decommission, after the job ended: no lease). The first
     * record stands; returns whether this one was it.
     */
    markSourceRemoved(jobId: number, index: number, at: string, by: string): boolean {
      const r = db
        .update(jobDisks)
        .set({ sourceRemovedAt: at, sourceRemovedBy: by })
        .where(and(eq(jobDisks.jobId, jobId), eq(jobDisks.index, index), isNull(jobDisks.sourceRemovedAt)))
        .run();
      return r.changes === 1;
    },
    /** Records that this disk's source LV is about to be removed (see sourceRemovalStartedAt); the last one stands. */
    markSourceRemovalStarted(jobId: number, index: number, at: string, by: string): void {
      db.update(jobDisks)
        .set({ sourceRemovalStartedAt: at, sourceRemovalStartedBy: by })
        .where(and(eq(jobDisks.jobId, jobId), eq(jobDisks.index, index), isNull(jobDisks.sourceRemovedAt)))
        .run();
    },
  };
}
export type JobDisksRepo = ReturnType<typeof createJobDisksRepo>;

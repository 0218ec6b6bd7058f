import { and, eq, isNotNull, isNull } from "drizzle-orm";
import type { Db } from "../open.ts";
import { jobObjects } from "../schema.ts";

export type JobObjectRow = typeof jobObjects.$inferSelect;
export type JobObjectKind = JobObjectRow["kind"];

/** What a job created on hosts; recorded before the create command runs, so a crash cannot orphan it. */
export function createJobObjectsRepo(db: Db) {
  return {
    record(jobId: number, hostId: number, kind: JobObjectKind, vg: string, lv: string): JobObjectRow {
      const existing = db
        .select()
        .from(jobObjects)
        .where(
          and(
            eq(jobObjects.jobId, jobId),
            eq(jobObjects.hostId, hostId),
            eq(jobObjects.vg, vg),
            eq(jobObjects.lv, lv),
            isNull(jobObjects.removedAt),
          ),
        )
        .get();
      return existing ?? db.insert(jobObjects).values({ jobId, hostId, kind, vg, lv }).returning().get();
    },
    live(jobId: number): JobObjectRow[] {
      return db
        .select()
        .from(jobObjects)
        .where(and(eq(jobObjects.jobId, jobId), isNull(jobObjects.removedAt)))
        .all();
    },
    allLive(): JobObjectRow[] {
      return db.select().from(jobObjects).where(isNull(jobObjects.removedAt)).all();
    },
    /** Whether the job created its target LV and removed it again (a cancel's clean-up). */
    targetRemoved(jobId: number): boolean {
      return (
        db
          .select({ id: jobObjects.id })
          .from(jobObjects)
          .where(and(eq(jobObjects.jobId, jobId), eq(jobObjects.kind, "target_lv"), isNotNull(jobObjects.removedAt)))
          .get() !== undefined
      );
    },
    markRemoved(id: number): void {
      db.update(jobObjects).set({ removedAt: new Date().toISOString() }).where(eq(jobObjects.id, id)).run();
    },
  };
}
export type JobObjectsRepo = ReturnType<typeof createJobObjectsRepo>;

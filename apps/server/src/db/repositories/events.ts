import type { StoredEvent } from "@blockferry/contracts";
import { and, asc, eq, gt, isNull, max } from "drizzle-orm";
import type { Db } from "../open.ts";
import { jobEvents } from "../schema.ts";

type Row = typeof jobEvents.$inferSelect;

const toEvent = (r: Row): StoredEvent => ({
  id: r.id,
  jobId: r.jobId,
  seq: r.seq,
  type: r.type,
  at: r.at,
  data: r.data,
});

export function createEventsRepo(db: Db) {
  return {
    /** Appends one event, numbering it within its job, in one synchronous transaction. */
    append(jobId: number | null, type: string, data: unknown): StoredEvent {
      return db.transaction((tx) => {
        const last = tx
          .select({ seq: max(jobEvents.seq) })
          .from(jobEvents)
          .where(jobId === null ? isNull(jobEvents.jobId) : eq(jobEvents.jobId, jobId))
          .get();
        const seq = (last?.seq ?? 0) + 1;
        const row = tx.insert(jobEvents).values({ jobId, seq, type, data }).returning().get();
        return toEvent(row);
      });
    },

    /** Events after a global cursor, oldest first, optionally of one job. */
    listAfter(after: number, opts: { jobId?: number; limit: number }): StoredEvent[] {
      const where =
        opts.jobId === undefined
          ? gt(jobEvents.id, after)
          : and(gt(jobEvents.id, after), eq(jobEvents.jobId, opts.jobId));
      return db.select().from(jobEvents).where(where).orderBy(asc(jobEvents.id)).limit(opts.limit).all().map(toEvent);
    },
  };
}
export type EventsRepo = ReturnType<typeof createEventsRepo>;

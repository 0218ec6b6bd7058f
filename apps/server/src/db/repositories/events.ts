import { type EventData, type EventType, ServerEvent, type StoredEvent } from "@blockferry/contracts";
import { and, asc, eq, gt, isNull, max } from "drizzle-orm";
import type { Db } from "../open.ts";
import { jobEvents } from "../schema.ts";
import { checkStored } from "../stored-json.ts";

type Row = typeof jobEvents.$inferSelect;

/** A stored row as the typed event union; a row whose type and data do not match fails with StoredDataError. */
const toEvent = (r: Row): StoredEvent => ({
  id: r.id,
  jobId: r.jobId,
  seq: r.seq,
  at: r.at,
  ...checkStored(ServerEvent, { type: r.type, data: r.data }, { table: "job_events", rowId: r.id, column: "data" }),
});

export function createEventsRepo(db: Db) {
  return {
    /** Appends one event, numbering it within its job, in one synchronous transaction. */
    append<T extends EventType>(jobId: number | null, type: T, data: EventData<T>): StoredEvent {
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

    /** Every event of one type of a job, oldest first (a job's phase changes, say, without its log). */
    ofType(jobId: number, type: EventType): StoredEvent[] {
      return db
        .select()
        .from(jobEvents)
        .where(and(eq(jobEvents.jobId, jobId), eq(jobEvents.type, type)))
        .orderBy(asc(jobEvents.id))
        .all()
        .map(toEvent);
    },
  };
}
export type EventsRepo = ReturnType<typeof createEventsRepo>;

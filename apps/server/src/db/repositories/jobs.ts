import { and, desc, eq, gte, inArray, isNull, like, lt, ne, notInArray, or, type SQL } from "drizzle-orm";
import type { Db } from "../open.ts";
import { ACTIVE_JOB_STATES, type JobState, jobs } from "../schema.ts";

export type JobRow = typeof jobs.$inferSelect;
export type NewJob = typeof jobs.$inferInsert;

export interface JobFilter {
  state?: JobState;
  hostId?: number;
  q?: string;
  since?: string;
  limit: number;
}

const stamp = () => new Date().toISOString();

/**
 * SQL for jobs. Writes by a runner are conditional on its lease token, so a worker that lost its lease
 * (it stalled, or another process took over after a crash) can never overwrite the job.
 */
export function createJobsRepo(db: Db, clock: () => number = Date.now) {
  return {
    insert(values: NewJob): JobRow {
      return db.insert(jobs).values(values).returning().get();
    },
    get(id: number): JobRow | undefined {
      return db.select().from(jobs).where(eq(jobs.id, id)).get();
    },
    list(f: JobFilter): JobRow[] {
      const where: SQL[] = [];
      if (f.state) where.push(eq(jobs.state, f.state));
      if (f.hostId) where.push(or(eq(jobs.sourceHostId, f.hostId), eq(jobs.targetHostId, f.hostId)) as SQL);
      if (f.since) where.push(gte(jobs.createdAt, f.since));
      if (f.q) {
        const pattern = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.push(
          or(
            like(jobs.sourceLv, pattern),
            like(jobs.sourceVg, pattern),
            like(jobs.targetLv, pattern),
            like(jobs.targetVg, pattern),
          ) as SQL,
        );
      }
      return db
        .select()
        .from(jobs)
        .where(and(...where))
        .orderBy(desc(jobs.id))
        .limit(f.limit)
        .all();
    },
    /** Jobs a runner may pick up: runnable states whose lease is free or expired. */
    claimable(): JobRow[] {
      const now = clock();
      return db
        .select()
        .from(jobs)
        .where(
          and(inArray(jobs.state, [...ACTIVE_JOB_STATES]), or(isNull(jobs.leaseOwner), lt(jobs.leaseExpiresAt, now))),
        )
        .orderBy(jobs.id)
        .all();
    },
    /** Takes the lease if it is still free or expired; false when another runner got there first. */
    claim(id: number, owner: string, leaseMs: number): JobRow | undefined {
      const now = clock();
      return db
        .update(jobs)
        .set({ leaseOwner: owner, leaseExpiresAt: now + leaseMs, updatedAt: stamp() })
        .where(
          and(eq(jobs.id, id), or(isNull(jobs.leaseOwner), lt(jobs.leaseExpiresAt, now), eq(jobs.leaseOwner, owner))),
        )
        .returning()
        .get();
    },
    renew(id: number, owner: string, leaseMs: number): JobRow | undefined {
      return db
        .update(jobs)
        .set({ leaseExpiresAt: clock() + leaseMs })
        .where(and(eq(jobs.id, id), eq(jobs.leaseOwner, owner)))
        .returning()
        .get();
    },
    /**
     * A runner's write: applied only while it still holds the lease (and, with `unlessCancelRequested`, only while
     * no operator has asked to cancel: how a job passes the point of no return).
     */
    updateOwned(
      id: number,
      owner: string,
      values: Partial<NewJob>,
      opts: { unlessCancelRequested?: boolean } = {},
    ): boolean {
      return (
        db
          .update(jobs)
          .set({ ...values, updatedAt: stamp() })
          .where(
            and(
              eq(jobs.id, id),
              eq(jobs.leaseOwner, owner),
              opts.unlessCancelRequested ? eq(jobs.cancelRequested, false) : undefined,
            ),
          )
          .run().changes === 1
      );
    },
    release(id: number, owner: string): void {
      db.update(jobs)
        .set({ leaseOwner: null, leaseExpiresAt: null })
        .where(and(eq(jobs.id, id), eq(jobs.leaseOwner, owner)))
        .run();
    },
    /**
     * An operator's write (cancel, cutover, retry): conditional on the states it is allowed from, and on the phase
     * not being one of `phaseNotIn`.
     */
    updateIfState(
      id: number,
      from: readonly JobState[],
      values: Partial<NewJob>,
      opts: { phaseNotIn?: readonly string[] } = {},
    ): JobRow | undefined {
      return db
        .update(jobs)
        .set({ ...values, updatedAt: stamp() })
        .where(
          and(
            eq(jobs.id, id),
            inArray(jobs.state, [...from]),
            opts.phaseNotIn?.length ? notInArray(jobs.phase, [...opts.phaseNotIn]) : undefined,
          ),
        )
        .returning()
        .get();
    },
    /** The unfinished job, other than `exceptId`, that holds this LV as its source or as its target. */
    activeUsing(
      v: { role: "source" | "target"; hostId: number; vg: string; lv: string },
      exceptId?: number,
    ): JobRow | undefined {
      const [host, vg, lv] =
        v.role === "source"
          ? [jobs.sourceHostId, jobs.sourceVg, jobs.sourceLv]
          : [jobs.targetHostId, jobs.targetVg, jobs.targetLv];
      return db
        .select()
        .from(jobs)
        .where(
          and(
            inArray(jobs.state, [...ACTIVE_JOB_STATES]),
            eq(host, v.hostId),
            eq(vg, v.vg),
            eq(lv, v.lv),
            exceptId === undefined ? undefined : ne(jobs.id, exceptId),
          ),
        )
        .get();
    },
    activeOnHost(hostId: number): JobRow[] {
      return db
        .select()
        .from(jobs)
        .where(
          and(
            inArray(jobs.state, [...ACTIVE_JOB_STATES]),
            or(eq(jobs.sourceHostId, hostId), eq(jobs.targetHostId, hostId)),
          ),
        )
        .all();
    },
  };
}
export type JobsRepo = ReturnType<typeof createJobsRepo>;

/** Whether `err` is SQLite refusing a second unfinished job on one LV (jobs_active_source_idx / _target_idx). */
export function isActiveVolumeClash(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e?.code === "SQLITE_CONSTRAINT_UNIQUE" &&
    /jobs\.(source|target)_host_id, jobs\.\1_vg, jobs\.\1_lv/.test(e.message ?? "")
  );
}

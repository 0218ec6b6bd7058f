import { JobError, MigrationOptions, PhaseState, VmControl } from "@blockferry/contracts";
import { ACTIVE_JOB_STATES, isJobState, isPhase, type JobState, type Phase } from "@blockferry/contracts/vocabulary";
import {
  and,
  count,
  desc,
  eq,
  gte,
  inArray,
  isNotNull,
  isNull,
  like,
  lt,
  ne,
  notInArray,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import type { Db } from "../open.ts";
import { hosts, jobDisks, jobs } from "../schema.ts";
import { checkStored, StoredDataError } from "../stored-json.ts";
import { createJobDisksRepo, type JobDiskRow } from "./job-disks.ts";

export type JobRow = typeof jobs.$inferSelect;
export type NewJob = typeof jobs.$inferInsert;
/** A disk after the first of a new job (the job row's own columns name disk 0). */
export type ExtraDisk = Pick<typeof jobDisks.$inferInsert, "sourceVg" | "sourceLv" | "targetVg" | "targetLv"> & {
  targetThinPool?: string | null;
};

export interface JobFilter {
  state?: JobState;
  hostId?: number;
  q?: string;
  since?: string;
  /** Only jobs whose measured outage exceeded their policy's maxOutageSeconds. */
  overBudget?: boolean;
  limit: number;
}

const stamp = () => new Date().toISOString();

/**
 * The job's host in `column` (source or target) has a free slot: fewer jobs holding a live lease on it (other than
 * this one) than its maxConcurrency. Evaluated inside the claim's UPDATE, so two runners cannot both take the last
 * slot (SQLite runs one write at a time).
 */
const hostHasRoom = (column: "source_host_id" | "target_host_id", id: number, now: number) => {
  const host = sql.raw(`"jobs"."${column}"`);
  return sql`(select count(*) from jobs as j2 where j2.id <> ${id} and j2.lease_owner is not null
    and j2.lease_expires_at >= ${now} and (j2.source_host_id = ${host} or j2.target_host_id = ${host}))
    < ifnull((select h.max_concurrency from hosts as h where h.id = ${host}), 2147483647)`;
};

/** A conditional write found another lease owner (or none): this worker must stop touching the job. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  constructor(readonly jobId: number) {
    super(`lease on job ${jobId} lost`);
  }
}

/**
 * A row as read from SQLite, checked: its JSON columns against their schemas and its enum texts against the
 * vocabulary (SQLite enforces neither). Every row the repository returns passes here.
 */
export function checkJobRow(row: JobRow): JobRow {
  const where = (column: string) => ({ table: "jobs", rowId: row.id, column });
  if (!isJobState(row.state)) throw new StoredDataError("jobs", row.id, "state", `unknown state ${row.state}`);
  if (!isPhase(row.phase)) throw new StoredDataError("jobs", row.id, "phase", `unknown phase ${row.phase}`);
  checkStored(VmControl, row.vm, where("vm"));
  checkStored(MigrationOptions, row.options, where("options"));
  checkStored(PhaseState, row.phaseState, where("phase_state"));
  if (row.error !== null) checkStored(JobError, row.error, where("error"));
  return row;
}
const checkOptional = (row: JobRow | undefined) => (row ? checkJobRow(row) : undefined);
const isSound = (row: JobRow): boolean => {
  try {
    checkJobRow(row);
    return true;
  } catch (err) {
    if (err instanceof StoredDataError) return false;
    throw err;
  }
};

/**
 * SQL for jobs. Writes by a runner are conditional on its lease token, so a worker that lost its lease
 * (it stalled, or another process took over after a crash) can never overwrite the job.
 */
export function createJobsRepo(db: Db, clock: () => number = Date.now) {
  return {
    /** A job and its disks in one transaction: disk 0 from the job's columns, then `extraDisks` as 1, 2, ... */
    insert(values: NewJob, extraDisks: readonly ExtraDisk[] = []): JobRow {
      return db.transaction((tx) => {
        const row = checkJobRow(tx.insert(jobs).values(values).returning().get());
        const active = (ACTIVE_JOB_STATES as readonly string[]).includes(row.state);
        const hostsOf = { jobId: row.id, sourceHostId: row.sourceHostId, targetHostId: row.targetHostId, active };
        const first = {
          sourceVg: row.sourceVg,
          sourceLv: row.sourceLv,
          targetVg: row.targetVg,
          targetLv: row.targetLv,
        };
        tx.insert(jobDisks)
          .values(
            [{ ...first, targetThinPool: row.targetThinPool }, ...extraDisks].map((d, index) => ({
              ...hostsOf,
              ...d,
              targetThinPool: d.targetThinPool ?? null,
              index,
            })),
          )
          .run();
        return row;
      });
    },
    /** The job's disk rows, disk 0 first (see job-disks.ts for a runner's writes). */
    disks(jobId: number): JobDiskRow[] {
      return createJobDisksRepo(db).list(jobId);
    },
    get(id: number): JobRow | undefined {
      return checkOptional(db.select().from(jobs).where(eq(jobs.id, id)).get());
    },
    list(f: JobFilter): JobRow[] {
      const where: Array<SQL | undefined> = [];
      if (f.state) where.push(eq(jobs.state, f.state));
      if (f.hostId) where.push(or(eq(jobs.sourceHostId, f.hostId), eq(jobs.targetHostId, f.hostId)));
      if (f.since) where.push(gte(jobs.createdAt, f.since));
      if (f.overBudget)
        where.push(sql`${jobs.outageMs} > json_extract(${jobs.cutoverPolicy}, '$.maxOutageSeconds') * 1000`);
      if (f.q) {
        const pattern = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        where.push(
          or(
            like(jobs.sourceLv, pattern),
            like(jobs.sourceVg, pattern),
            like(jobs.targetLv, pattern),
            like(jobs.targetVg, pattern),
          ),
        );
      }
      return db
        .select()
        .from(jobs)
        .where(and(...where))
        .orderBy(desc(jobs.id))
        .limit(f.limit)
        .all()
        .map(checkJobRow);
    },
    /**
     * Jobs a runner may pick up: runnable states whose lease is free or expired. A row that fails its check is left
     * out, so one bad row cannot stop the runner for every other job; get() and list() report it by job and column.
     */
    claimable(): JobRow[] {
      const now = clock();
      return db
        .select()
        .from(jobs)
        .where(
          and(inArray(jobs.state, [...ACTIVE_JOB_STATES]), or(isNull(jobs.leaseOwner), lt(jobs.leaseExpiresAt, now))),
        )
        .orderBy(jobs.id)
        .all()
        .filter(isSound);
    },
    /**
     * Takes the lease if it is still free or expired and both hosts have a free slot (maxConcurrency); undefined
     * when another runner got there first or a host is full.
     */
    claim(id: number, owner: string, leaseMs: number): JobRow | undefined {
      const now = clock();
      return checkOptional(
        db
          .update(jobs)
          .set({ leaseOwner: owner, leaseExpiresAt: now + leaseMs, updatedAt: stamp() })
          .where(
            and(
              eq(jobs.id, id),
              or(isNull(jobs.leaseOwner), lt(jobs.leaseExpiresAt, now), eq(jobs.leaseOwner, owner)),
              hostHasRoom("source_host_id", id, now),
              hostHasRoom("target_host_id", id, now),
            ),
          )
          .returning()
          .get(),
      );
    },
    /** A host's name, its maxConcurrency, and how many jobs hold a live lease on it (as source or target). */
    hostLoad(hostId: number): { name: string; limit: number; busy: number } | undefined {
      const host = db
        .select({ name: hosts.name, limit: hosts.maxConcurrency })
        .from(hosts)
        .where(eq(hosts.id, hostId))
        .get();
      if (!host) return undefined;
      const now = clock();
      const live = and(isNotNull(jobs.leaseOwner), gte(jobs.leaseExpiresAt, now));
      const onHost = or(eq(jobs.sourceHostId, hostId), eq(jobs.targetHostId, hostId));
      const busy = db.select({ n: count() }).from(jobs).where(and(live, onHost)).get()?.n ?? 0;
      return { ...host, busy };
    },
    /** Extends the lease; what the runner reacts to: the state, the cancel flag and changed options. */
    renew(
      id: number,
      owner: string,
      leaseMs: number,
    ): Pick<JobRow, "state" | "cancelRequested" | "options"> | undefined {
      return db
        .update(jobs)
        .set({ leaseExpiresAt: clock() + leaseMs })
        .where(and(eq(jobs.id, id), eq(jobs.leaseOwner, owner)))
        .returning({ state: jobs.state, cancelRequested: jobs.cancelRequested, options: jobs.options })
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
      opts: { phaseNotIn?: readonly Phase[] } = {},
    ): JobRow | undefined {
      return checkOptional(
        db
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
          .get(),
      );
    },
    /** The unfinished job, other than `exceptId`, one of whose disks holds this LV as its source or as its target. */
    activeUsing(
      v: { role: "source" | "target"; hostId: number; vg: string; lv: string },
      exceptId?: number,
    ): JobRow | undefined {
      const [host, vg, lv] =
        v.role === "source"
          ? [jobDisks.sourceHostId, jobDisks.sourceVg, jobDisks.sourceLv]
          : [jobDisks.targetHostId, jobDisks.targetVg, jobDisks.targetLv];
      return db
        .select({ job: jobs })
        .from(jobs)
        .innerJoin(jobDisks, eq(jobDisks.jobId, jobs.id))
        .where(
          and(
            inArray(jobs.state, [...ACTIVE_JOB_STATES]),
            eq(host, v.hostId),
            eq(vg, v.vg),
            eq(lv, v.lv),
            exceptId === undefined ? undefined : ne(jobs.id, exceptId),
          ),
        )
        .get()?.job;
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
        .all()
        .map(checkJobRow);
    },
    /** The newest succeeded jobs with a measured outage (the outage prediction's history). */
    recentOutages(limit: number): JobRow[] {
      return db
        .select()
        .from(jobs)
        .where(and(eq(jobs.state, "succeeded"), isNotNull(jobs.outageMs)))
        .orderBy(desc(jobs.id))
        .limit(limit)
        .all()
        .filter(isSound);
    },
    /** How many jobs are in each state (states with none are absent): for the metrics scrape. */
    countByState(): Array<{ state: JobRow["state"]; count: number }> {
      return db.select({ state: jobs.state, count: count() }).from(jobs).groupBy(jobs.state).all();
    },
  };
}
export type JobsRepo = ReturnType<typeof createJobsRepo>;

/** Whether `err` is SQLite refusing a second unfinished job on one LV (jobs_active_source_idx / _target_idx). */
export function isActiveVolumeClash(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e?.code === "SQLITE_CONSTRAINT_UNIQUE" &&
    /(jobs|job_disks)\.(source|target)_host_id, \1\.\2_vg, \1\.\2_lv/.test(e.message ?? "")
  );
}

import { and, asc, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import type { SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import type { Db } from "../open.ts";
import { jobDisks, jobs, transferRanges } from "../schema.ts";
import { LeaseLostError } from "./jobs.ts";

/** One journaled range of a transfer pass. `hash` is the BLAKE2b-512 proof (hex) the two hosts agreed on. */
export interface JournalRange {
  offset: number;
  length: number;
  hash: string | null;
  confirmed: boolean;
}

export interface PassTotals {
  bytesTotal: number;
  bytesDone: number;
  rangesTotal: number;
  rangesDone: number;
}

/** The stored plan of a pass differs from the one asked for: resuming it would skip or resend ranges. */
export class JournalPlanMismatchError extends Error {
  override readonly name = "JournalPlanMismatchError";
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Whose ranges: a job's disk, or a bare job id for its disk 0 (what every job moved before migrations had disks). */
export type JournalDisk = number | { jobId: number; disk: number };
const keyOf = (d: JournalDisk) => (typeof d === "number" ? { jobId: d, disk: 0 } : d);

const ofPass = (d: JournalDisk, pass: string) => {
  const { jobId, disk } = keyOf(d);
  return and(eq(transferRanges.jobId, jobId), eq(transferRanges.disk, disk), eq(transferRanges.pass, pass));
};

/**
 * Moves the job's copy counters: the only writer of them. With a lease (a runner's copy) only while that lease is
 * held; a stale worker's write throws LeaseLostError, which rolls back the transaction it is part of, so neither
 * its counters nor its ranges land.
 */
function writeCounters(tx: Tx, d: JournalDisk, lease: string | undefined, values: Counters) {
  const { jobId, disk } = keyOf(d);
  const held = lease ? and(eq(jobs.id, jobId), eq(jobs.leaseOwner, lease)) : eq(jobs.id, jobId);
  // Disk 0 counts on the job row (as before disks); the others on their own row, under the job's lease all the same.
  if (disk === 0) {
    if (tx.update(jobs).set(values).where(held).run().changes !== 1) throw new LeaseLostError(jobId);
    return;
  }
  const leaseHeld = sql`exists (select 1 from ${jobs} where ${held})`;
  const updated = tx
    .update(jobDisks)
    .set(values as SQLiteUpdateSetSource<typeof jobDisks>)
    .where(and(eq(jobDisks.jobId, jobId), eq(jobDisks.index, disk), leaseHeld))
    .run();
  if (updated.changes !== 1) throw new LeaseLostError(jobId);
}
type Counters = SQLiteUpdateSetSource<typeof jobs> & SQLiteUpdateSetSource<typeof jobDisks>;

/** Offsets in slices that stay well under SQLite's bound-parameter limit. */
function slices(offsets: readonly number[], size = 500): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < offsets.length; i += size) out.push(offsets.slice(i, i + size));
  return out;
}

/**
 * Confirms the ranges at `offsets` with `hash`, or takes their confirmation back (`null`), leaving those already
 * in that state alone; the job's counters move by what changed. One statement per few hundred ranges, not one
 * per range: a final delta confirms hundreds of ranges inside the outage. Returns how many changed, and their bytes.
 */
function setConfirmation(
  tx: Tx,
  jobId: JournalDisk,
  pass: string,
  offsets: readonly number[],
  hash: string | null,
  lease: string | undefined,
): { count: number; bytes: number } {
  let bytes = 0;
  let count = 0;
  for (const slice of slices(offsets)) {
    const rows = tx
      .update(transferRanges)
      .set(
        hash === null
          ? { sha256: null, confirmedAt: null }
          : { sha256: hash, confirmedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))` },
      )
      .where(
        and(
          ofPass(jobId, pass),
          inArray(transferRanges.offset, slice),
          hash === null ? isNotNull(transferRanges.confirmedAt) : isNull(transferRanges.confirmedAt),
        ),
      )
      .returning({ length: transferRanges.length })
      .all();
    for (const r of rows) bytes += r.length;
    count += rows.length;
  }
  const sign = hash === null ? -1 : 1;
  if (count)
    writeCounters(tx, jobId, lease, {
      bytesDone: sql`bytes_done + ${sign * bytes}`,
      rangesDone: sql`ranges_done + ${sign * count}`,
    });
  return { count, bytes };
}

/**
 * The transfer journal: a pass is planned once (one row per range), and a range is confirmed only after the
 * destination's read-back hash matched. Resume = the unconfirmed rows. The job's byte/range counters follow
 * the pass being copied and are updated in the same transaction as the rows they count; nothing else writes
 * them. A journal bound to a lease (`createTransferJournal(db, lease)`, what a runner's copy gets) writes only
 * while that lease holds.
 */
export function createTransferJournal(db: Db, lease?: string, onConfirmedBytes?: (bytes: number) => void) {
  const rangesOf = (jobId: JournalDisk, pass: string): JournalRange[] =>
    db
      .select()
      .from(transferRanges)
      .where(ofPass(jobId, pass))
      .orderBy(asc(transferRanges.offset))
      .all()
      .map((r) => ({ offset: r.offset, length: r.length, hash: r.sha256, confirmed: r.confirmedAt !== null }));

  const totalsOf = (rows: readonly JournalRange[]): PassTotals => {
    const t = { bytesTotal: 0, bytesDone: 0, rangesTotal: rows.length, rangesDone: 0 };
    for (const r of rows) {
      t.bytesTotal += r.length;
      if (r.confirmed) {
        t.bytesDone += r.length;
        t.rangesDone++;
      }
    }
    return t;
  };

  // Prepared once: a final delta plans hundreds of ranges inside the outage (building one multi-row INSERT
  // per plan cost 3-20 ms, a prepared row a few microseconds).
  const insertRange = db
    .insert(transferRanges)
    .values({
      jobId: sql.placeholder("jobId"),
      disk: sql.placeholder("disk"),
      pass: sql.placeholder("pass"),
      offset: sql.placeholder("offset"),
      length: sql.placeholder("length"),
    })
    .prepare();

  return {
    /** The same journal, writing only while `owner` holds the job's lease. */
    leased: (owner: string) => createTransferJournal(db, owner, onConfirmedBytes),

    /**
     * Stores the ranges of a pass the first time; afterwards returns the stored rows, refusing a different plan
     * (same offsets and lengths required), so a resumed copy works on exactly the ranges it started with.
     */
    plan(
      jobId: JournalDisk,
      pass: string,
      ranges: readonly (readonly [offset: number, length: number])[],
    ): JournalRange[] {
      return db.transaction((tx) => {
        const existing = tx
          .select({ offset: transferRanges.offset, length: transferRanges.length })
          .from(transferRanges)
          .where(ofPass(jobId, pass))
          .orderBy(asc(transferRanges.offset))
          .all();
        if (existing.length === 0) {
          for (const [offset, length] of ranges) insertRange.run({ ...keyOf(jobId), pass, offset, length });
        } else {
          const same =
            existing.length === ranges.length &&
            existing.every((r, i) => r.offset === ranges[i]?.[0] && r.length === ranges[i]?.[1]);
          if (!same)
            throw new JournalPlanMismatchError(
              `job ${keyOf(jobId).jobId} disk ${keyOf(jobId).disk} pass ${pass}: stored plan has ${existing.length} ranges, asked for ${ranges.length} different ones`,
            );
        }
        // A plan just written is all unconfirmed: no need to read it back (a final delta plans inside the outage).
        const rows =
          existing.length === 0
            ? ranges
                .map(([offset, length]) => ({ offset, length, hash: null, confirmed: false }))
                .sort((a, b) => a.offset - b.offset)
            : tx
                .select()
                .from(transferRanges)
                .where(ofPass(jobId, pass))
                .orderBy(asc(transferRanges.offset))
                .all()
                .map((r) => ({
                  offset: r.offset,
                  length: r.length,
                  hash: r.sha256,
                  confirmed: r.confirmedAt !== null,
                }));
        writeCounters(tx, jobId, lease, totalsOf(rows));
        return rows;
      });
    },

    /** Marks ranges confirmed with their proof hash; a range already confirmed is left as it was (counted once). */
    confirm(jobId: JournalDisk, pass: string, confirmed: readonly { offset: number; hash: string }[]): number {
      const byHash = new Map<string, number[]>();
      for (const c of confirmed) {
        const offsets = byHash.get(c.hash);
        if (offsets) offsets.push(c.offset);
        else byHash.set(c.hash, [c.offset]);
      }
      const { count, bytes } = db.transaction((tx) => {
        const total = { count: 0, bytes: 0 };
        for (const [hash, offsets] of byHash) {
          const r = setConfirmation(tx, jobId, pass, offsets, hash, lease);
          total.count += r.count;
          total.bytes += r.bytes;
        }
        return total;
      });
      // Told after the commit: bytes a lost lease rolled back were never confirmed.
      onConfirmedBytes?.(bytes);
      return count;
    },

    /** Takes confirmation back (a later verify found the destination differs): the next copy resends them. */
    unconfirm(jobId: JournalDisk, pass: string, offsets: readonly number[]): number {
      return db.transaction((tx) => setConfirmation(tx, jobId, pass, offsets, null, lease)).count;
    },

    ranges: rangesOf,

    totals(jobId: JournalDisk, pass: string): PassTotals {
      return totalsOf(rangesOf(jobId, pass));
    },

    /** Forgets a pass (e.g. to copy it again from scratch). */
    reset(jobId: JournalDisk, pass: string): void {
      db.delete(transferRanges).where(ofPass(jobId, pass)).run();
    },

    /**
     * Forgets every pass of every disk of a job and zeroes its counters: its copies on the target are gone (a
     * rollback removed them), so nothing the journal confirmed holds any more.
     */
    forgetJob(jobId: number): void {
      db.transaction((tx) => {
        const zero = { bytesTotal: 0, bytesDone: 0, rangesTotal: 0, rangesDone: 0 };
        writeCounters(tx, jobId, lease, zero);
        const disks = tx.select({ index: jobDisks.index }).from(jobDisks).where(eq(jobDisks.jobId, jobId)).all();
        for (const d of disks) if (d.index > 0) writeCounters(tx, { jobId, disk: d.index }, lease, zero);
        tx.delete(transferRanges).where(eq(transferRanges.jobId, jobId)).run();
      });
    },
  };
}

export type TransferJournal = ReturnType<typeof createTransferJournal>;

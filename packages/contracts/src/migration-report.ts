import { type Static, Type } from "typebox";
import { DataPathView, JobState } from "./migrations.ts";
import { PHASES } from "./vocabulary.ts";

const Phase = Type.Enum(PHASES);
const Time = Type.String({ description: "ISO 8601" });
const OptionalTime = Type.Union([Time, Type.Null()]);

/** One copy pass as the transfer journal recorded it. */
export const PassReport = Type.Object({
  pass: Type.String({ description: 'the journal\'s name: "full-g1", "catchup-2", "final", "final-r1", ...' }),
  kind: Type.Union([Type.Literal("full"), Type.Literal("catch_up"), Type.Literal("final")]),
  /** Catch-up number, snapshot generation of a full copy, or rollback number of a final delta; 1 for a first. */
  number: Type.Integer({ minimum: 1 }),
  bytesPlanned: Type.Number(),
  bytesMoved: Type.Number({ description: "confirmed by the target's read-back hash" }),
  ranges: Type.Integer({ minimum: 0 }),
  runs: Type.Integer({ minimum: 0, description: "contiguous stretches of the volume the ranges form" }),
});
export type PassReport = Static<typeof PassReport>;

/** A phase the job was in, from the stored job.phase events. */
export const PhaseSpan = Type.Object({
  phase: Phase,
  startedAt: Time,
  endedAt: OptionalTime,
  durationMs: Type.Union([Type.Number(), Type.Null()], { description: "null while the phase runs" }),
  outcome: Type.Union([
    Type.Literal("done"),
    Type.Literal("running"),
    Type.Literal("failed"),
    Type.Literal("cancelled"),
    Type.Literal("rolled_back"),
  ]),
});
export type PhaseSpan = Static<typeof PhaseSpan>;

/** One run of the job: the first, then one per retry. */
export const AttemptReport = Type.Object({
  attempt: Type.Integer({ minimum: 1, description: "1 for the first run, 2 after the first retry, ..." }),
  startedAt: Time,
  endedAt: OptionalTime,
  /** The state the attempt ended in; null while it runs. */
  outcome: Type.Union([JobState, Type.Null()]),
  /** Where it ended (or is now). */
  phase: Type.Union([Phase, Type.Null()]),
  /** The last error its log recorded, for an attempt that failed or rolled back. */
  error: Type.Union([Type.String(), Type.Null()]),
  phases: Type.Array(PhaseSpan),
});
export type AttemptReport = Static<typeof AttemptReport>;

/** A disk's independent check at the end (the verify phase), from its last job.verified event. */
export const DiskVerification = Type.Object({
  disk: Type.Integer({ minimum: 0 }),
  ranges: Type.Integer({ minimum: 0, description: "ranges re-read and hashed on both hosts, every one equal" }),
  full: Type.Boolean({ description: "the whole volume was re-hashed, not only the final delta" }),
  at: Time,
});
export type DiskVerification = Static<typeof DiskVerification>;

/** A pass an earlier attempt finished, as its job.copied event recorded it. */
export const DiscardedPass = Type.Object({
  pass: Type.String({ description: 'the journal\'s name then: "full-g1", "catchup-2", ...' }),
  disk: Type.Integer({ minimum: 0, description: "0 for a one-disk migration" }),
  rangesTotal: Type.Integer({ minimum: 0 }),
  rangesAlreadyDone: Type.Integer({
    minimum: 0,
    description: "confirmed by an interrupted run before: not sent again",
  }),
  bytesRead: Type.Number(),
  bytesSent: Type.Number(),
  at: Time,
});
export type DiscardedPass = Static<typeof DiscardedPass>;

/**
 * A rollback that discarded the copies made before it: the target failed during the outage, the VM started again
 * on the source, the job's snapshots and target LVs were removed (a target LV that could not be removed is copied
 * whole again), its transfer journal forgotten and the job set back to prechecks. Read from the stored events: the
 * journal no longer holds these passes.
 */
export const RollbackReport = Type.Object({
  /** The attempt it ended (as in `attempts`). */
  attempt: Type.Integer({ minimum: 1 }),
  at: Time,
  /** The phase that failed during the outage. */
  phase: Phase,
  reason: Type.String(),
  outageMs: Type.Number(),
  /**
   * Every pass finished since the job last started over, in the order they finished; none of them counts for the
   * copy that exists now. A pass the rollback interrupted finished nothing and is not listed.
   */
  discardedPasses: Type.Array(DiscardedPass),
});
export type RollbackReport = Static<typeof RollbackReport>;

/**
 * What a migration did, from its events and its transfer journal: the facts a finished job shows (and a running
 * one so far). Apart from Migration, which every list row carries: this costs a read of the job's events.
 */
export const MigrationReport = Type.Object(
  {
    id: Type.Integer(),
    /** The passes of the copy that exists now (the journal's; a rollback's discarded ones are in `rollbacks`). */
    passes: Type.Array(PassReport),
    /** Bytes every pass of `passes` moved together: the whole copy, not only the last pass. */
    bytesMoved: Type.Number(),
    attempts: Type.Array(AttemptReport),
    /** Each rollback that discarded the copies made before it, oldest first; empty if there was none. */
    rollbacks: Type.Array(RollbackReport),
    /** Time in each phase, over all attempts, in PHASES order (phases never entered are left out). */
    phaseDurationsMs: Type.Array(Type.Object({ phase: Phase, durationMs: Type.Number() })),
    /** From the first start to the end; null until the job has started, and while it has not ended. */
    durationMs: Type.Union([Type.Number(), Type.Null()]),
    /** The target LV this job created was removed again (a cancel cleaned it up): none of the copy is kept. */
    targetRemoved: Type.Boolean(),
    /** Which way the copies went, from the job log (each pass logs its data path). */
    dataPath: DataPathView,
    /** Each verified disk's last verification (a rollback's new final delta is verified again), disk 0 first. */
    verified: Type.Array(DiskVerification),
  },
  { $id: "MigrationReport" },
);
export type MigrationReport = Static<typeof MigrationReport>;

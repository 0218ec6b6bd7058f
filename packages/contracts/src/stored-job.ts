import { type Static, Type } from "typebox";
import { CutoverWait, OutagePrediction } from "./cutover.ts";
import { PHASES } from "./vocabulary.ts";

/**
 * The JSON a job row stores beside its columns (jobs.phase_state, jobs.error). The server validates it whenever it
 * loads a row, so a phase reads exactly these shapes, whatever an older version or a hand edit left there.
 */

const Count = Type.Integer({ minimum: 0 });
const EpochMs = Type.Number({ description: "epoch milliseconds" });
const ThinId = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
  description: "device id in the thin pool; null for a classic LV",
});

/** A catch-up pass's snapshot rotation: send what snapshot `from` recorded, read from generation `toGen`. */
export const StoredRotation = Type.Object({
  pass: Type.String(),
  from: Type.String(),
  fromThinId: ThinId,
  toGen: Type.Integer({ minimum: 1 }),
});
export type StoredRotation = Static<typeof StoredRotation>;

/**
 * A pass's change list, stored before its copy starts: a re-run after a crash must copy exactly the ranges its
 * journal planned, even though the snapshot has recorded more since.
 */
export const StoredChanges = Type.Object({
  pass: Type.String(),
  chunkBytes: Type.Integer({ minimum: 1 }),
  extents: Type.String({ description: "base64 of the encoded extent map" }),
});
export type StoredChanges = Static<typeof StoredChanges>;

/** Which way one copy pass's bytes went, and why auto took the relay. */
export const PassDataPath = Type.Object({
  pass: Type.String(),
  /** The disk of a set whose pass this is (1..: each disk's copies decide their path on their own); absent: disk 0. */
  disk: Type.Optional(Type.Integer({ minimum: 1, maximum: 15 })),
  ran: Type.Union([Type.Literal("direct"), Type.Literal("relay")]),
  reason: Type.Optional(Type.String()),
});
export type PassDataPath = Static<typeof PassDataPath>;

/** What the phases store to be re-runnable after a crash; everything else they recompute. */
export const PhaseState = Type.Object({
  /** Bytes of the source volume (prechecks store 0 when they could not measure it). */
  sizeBytes: Type.Optional(Count),
  /** Generation of the current source snapshot; a new one after a rotation or an overflow. */
  snapshotGen: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Name of the current snapshot; absent after an overflow, so the next snapshot phase drops it first. */
  snapshotLv: Type.Optional(Type.String()),
  snapshotThinId: Type.Optional(ThinId),
  originThinId: Type.Optional(ThinId),
  /** Thin pool of the source LV; null for a classic LV. */
  sourcePool: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  sourceThin: Type.Optional(Type.Boolean()),
  /** The target LV is ours (created by this job), so cancel may remove it. */
  targetCreated: Type.Optional(Type.Boolean()),
  /** A fresh thin target reads zeroes: all-zero ranges need no write. */
  targetReadsZero: Type.Optional(Type.Boolean()),
  fullCopyDone: Type.Optional(Type.Boolean()),
  /** How often an overflowed snapshot forced a new snapshot and full copy. */
  fullCopyFallbacks: Type.Optional(Count),
  /** Completed catch-up passes. */
  catchUpDone: Type.Optional(Count),
  /** Catch-up passes an automatic cutover policy added to converge (on top of options.catchUpPasses). */
  extraPasses: Type.Optional(Count),
  /**
   * What this migration's copy passes measured (the latest few): the outage prediction's delta throughput and
   * per-run cost. `readMs` is the time to read the pass's change list (catch-up passes).
   */
  passTimings: Type.Optional(
    Type.Array(
      Type.Object({
        pass: Type.String(),
        bytes: Type.Number({ minimum: 0 }),
        runs: Count,
        copyMs: Type.Number({ minimum: 0 }),
        readMs: Type.Optional(Type.Number({ minimum: 0 })),
      }),
    ),
  ),
  /** The data path each copy pass took (the latest few), for the job's view. */
  dataPaths: Type.Optional(Type.Array(PassDataPath)),
  rotation: Type.Optional(StoredRotation),
  pendingChanges: Type.Optional(StoredChanges),
  /** Set before the stop command runs, so cancel restarts the VM. */
  vmStoppedAt: Type.Optional(EpochMs),
  vmStartedAt: Type.Optional(EpochMs),
  /**
   * libvirt: the domain is being or was defined on the target by this job (set before `virsh define` runs); cancel
   * and rollback undefine it there, the start phase starts it.
   */
  targetDomainDefined: Type.Optional(Type.Boolean()),
  /**
   * Where the VM is to be started, stored before the start command runs (fencing: see jobs/start-fence.ts).
   * Cleared once a rollback has started it again on the source, so that a retry can decide again.
   */
  startDecision: Type.Optional(
    Type.Object({ host: Type.Union([Type.Literal("source"), Type.Literal("target")]), at: EpochMs }),
  ),
  /** The outage a rollback ended (vmStoppedAt is cleared then): the dashboard says how long the VM was down. */
  lastOutage: Type.Optional(Type.Object({ stoppedAt: EpochMs, restartedAt: EpochMs })),
  /** Rollbacks so far: each retry's final delta is a journal pass of its own. */
  rollbacks: Type.Optional(Count),
  /** When an automatic cutover the gate refused is tried again. */
  cutoverRetryAt: Type.Optional(EpochMs),
  /** The latest outage prediction (see OutagePrediction); kept after the cutover. */
  prediction: Type.Optional(OutagePrediction),
  /** The prediction's outage right before the stop command: compared with the measured outage afterwards. */
  predictedOutageSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  /** Why an automatic cutover waits now. */
  cutoverWait: Type.Optional(CutoverWait),
  /**
   * What the snapshot has recorded since the last pass, as chunk-map cells [firstCell, cellCount]: the live
   * "changed" cells while the VM writes (replaced at each reading, capped in size).
   */
  liveChangedCells: Type.Optional(Type.Array(Type.Tuple([Count, Count]))),
  /** Multi-disk: the final-delta pass of this disk that is on the target (a re-run of final_delta skips it). */
  finalCopiedPass: Type.Optional(Type.String()),
  /** Multi-disk: the final-delta pass of this disk that verify found equal (a re-run of verify skips it). */
  verifiedPass: Type.Optional(Type.String()),
  /** The final delta was the whole volume (its change list was lost). */
  finalFull: Type.Optional(Type.Boolean()),
  finalChunkBytes: Type.Optional(Type.Integer({ minimum: 1 })),
  /** The final delta as [firstChunk, chunkCount] runs, for verify. */
  finalExtents: Type.Optional(Type.Array(Type.Tuple([Count, Count]))),
});
export type PhaseState = Static<typeof PhaseState>;

/** Why a job failed: its error's code and message, and the phase it failed in. */
export const JobError = Type.Object({
  code: Type.String(),
  message: Type.String(),
  phase: Type.Enum(PHASES),
});
export type JobError = Static<typeof JobError>;

import type { ExtentMap } from "@blockferry/changes";
import type {
  DataPath,
  EventData,
  LogDetails,
  LogLevel,
  MigrationOptions,
  PhaseState,
  ProgressMessage,
} from "@blockferry/contracts";
import type { Phase } from "@blockferry/contracts/vocabulary";
import type { JobRow } from "../db/repositories/jobs.ts";
import type { HostShell } from "../hosts/shell.ts";

/** What a phase stores to be re-runnable after a crash (schema in contracts: the jobs repository checks it). */
export type { PhaseState } from "@blockferry/contracts";
/**
 * A cancel is accepted only before the job enters the point of no return (start_vm); the service and the executor
 * decide that with conditional updates, so exactly one of them wins a race.
 */
export { isPastNoReturn, NO_RETURN_PHASES } from "@blockferry/contracts/vocabulary";
export type { HostShell } from "../hosts/shell.ts";

export interface PhaseContext {
  /**
   * The job; in a disk's context (multi-disk sets) its source/target VG and LV columns name that disk's volumes.
   */
  readonly job: JobRow;
  /** The disk of a set this context acts on; absent for a one-disk migration. */
  readonly disk?: number;
  readonly state: PhaseState;
  readonly signal: AbortSignal;
  /** The runner's lease token: every write for this job, the journal's too, is conditional on it. */
  readonly leaseOwner: string;
  readonly source: HostShell;
  readonly target: HostShell;
  /** Persists a phase-state patch (conditional on the lease). */
  save(patch: Partial<PhaseState>): void;
  /**
   * Persists job columns (conditional on the lease). Copy counters are not among them: the journal writes those.
   * `cutoverRequested` is cleared when the cutover gate refuses an operator's cutover: the operator confirms again.
   */
  saveJob(values: { outageMs?: number; cutoverRequested?: boolean }): void;
  log(level: LogLevel, message: string, details?: LogDetails): void;
  /** Stores one of the events a phase records; the runner adds the phase it runs in. */
  event<T extends PhaseEventType>(type: T, data: Omit<EventData<T>, "phase">): void;
  /** Shows the job as waiting for the operator's cutover (or running again). */
  markWaiting(waiting: boolean): void;
  progress(p: Omit<ProgressMessage, "jobId" | "phase">): void;
  /** Calls `listener` when an operator changes the job's options while it runs; returns the unsubscribe. */
  watchOptions(listener: (options: MigrationOptions) => void): () => void;
  /** Re-reads the job row (cutover and cancel flags are set by the API). */
  reload(): JobRow;
}

/** Events phases record through ctx.event (the others are the runner's and the services'). */
export type PhaseEventType =
  | "job.snapshot"
  | "job.verified"
  | "job.vm_stopped"
  | "job.outage"
  | "job.copied"
  | "job.prediction"
  | "job.cutover_waiting"
  | "job.cutover_refused"
  | "job.rolled_back";

export type PhaseResult = { next: Phase };
export type PhaseFn = (ctx: PhaseContext) => Promise<PhaseResult>;
/** Every phase a job runs; "done" is where it stops, so it has no function. */
export type RunnablePhase = Exclude<Phase, "done">;
export type PhaseTable = Record<RunnablePhase, PhaseFn>;

/** What a copy reports while it runs (the live progress message without job and phase). */
export type TransferProgress = Omit<ProgressMessage, "jobId" | "phase">;

export interface CopyRequest {
  jobId: number;
  /** The job's lease: the journal confirms ranges and moves the job's counters only while it holds. */
  lease: string;
  /** The job's disk this copy writes (its journal rows and counters); absent: disk 0. */
  disk?: number;
  /** Journal key of this copy: "full-g1", "catchup-2", "final". */
  pass: string;
  source: { hostId: number; device: string };
  target: { hostId: number; device: string };
  /** A fresh thin LV reads zeroes: all-zero ranges need not be written at all. */
  targetReadsZero: boolean;
  bandwidthBytesPerSecond?: number;
  /** Follows operator changes of the limit while the copy runs; returns the unsubscribe. */
  watchBandwidth?(apply: (bytesPerSecond: number | null) => void): () => void;
  /** gzip on the source (job option). */
  compress?: boolean;
  /** How the bytes travel (job option; default auto). */
  dataPath?: DataPath;
  /** Told which path the copy takes, and why (auto took the relay; direct again after a lost link). */
  onDataPath?(ran: "direct" | "relay", reason?: string): void;
  /** Told that the source's link to the target died mid copy (the copy re-opens the path or falls back). */
  onLinkLost?(message: string): void;
  /** Unit of `doneRuns` in progress reports: the job's chunk-map cell. */
  mapChunkBytes: number;
  signal: AbortSignal;
  onProgress(p: TransferProgress): void;
}

export interface VerifyRequest {
  source: { hostId: number; device: string };
  target: { hostId: number; device: string };
  deviceBytes: number;
  /** The chunks to re-read; absent: the whole device. */
  extents?: { map: ExtentMap; chunkBytes: number };
  signal: AbortSignal;
}

/** What one copy run did: ranges its journal had confirmed before (resumed, not sent again) and bytes it moved. */
export interface CopySummary {
  /** The path the bytes took. */
  dataPath?: "direct" | "relay";
  rangesTotal: number;
  rangesAlreadyDone: number;
  bytesRead: number;
  bytesSent: number;
}

/** The transfer engine as phases see it: verified, journaled, resumable copies. */
export interface Mover {
  copyFull(o: CopyRequest & { bytes: number }): Promise<CopySummary>;
  copyExtents(o: CopyRequest & { extents: ExtentMap; chunkBytes: number; deviceBytes: number }): Promise<CopySummary>;
  /** Re-reads ranges on both hosts from the devices (transfer/verify.ts) and names the ones that differ. */
  verify(o: VerifyRequest): Promise<{ rangesChecked: number; mismatched: Array<readonly [number, number]> }>;
}

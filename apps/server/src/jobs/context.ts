import type { ExtentMap } from "@blockferry/changes";
import type { MigrationOptions, ProgressMessage } from "@blockferry/contracts";
import type { JobRow } from "../db/repositories/jobs.ts";
import type { HostShell } from "../hosts/shell.ts";

export type { HostShell } from "../hosts/shell.ts";

/**
 * Phases from the point of no return on: start_vm may already have started the VM on the target, so rolling back
 * would throw away what it wrote there. A cancel is accepted only before the job enters start_vm; the service
 * and the executor decide that with conditional updates, so exactly one of them wins a race.
 */
export const NO_RETURN_PHASES = ["start_vm", "cleanup", "done"] as const;
export const isPastNoReturn = (phase: string) => (NO_RETURN_PHASES as readonly string[]).includes(phase);

/** What a phase stores to be re-runnable after a crash; everything else it recomputes. */
export interface PhaseState {
  sizeBytes?: number;
  /** Generation of the current source snapshot; a new one after a rotation or an overflow. */
  snapshotGen?: number;
  snapshotLv?: string;
  snapshotChunkBytes?: number;
  /** Snapshots from earlier generations still to drop. */
  staleSnapshots?: string[];
  targetCreated?: boolean;
  /** Completed catch-up passes. */
  catchUpDone?: number;
  /** Epoch ms: the VM was stopped (set before the stop command runs, so cancel restarts it). */
  vmStoppedAt?: number;
  vmStartedAt?: number;
  fullCopyFallbacks?: number;
  [key: string]: unknown;
}

export interface PhaseContext {
  readonly job: JobRow;
  readonly state: PhaseState;
  readonly signal: AbortSignal;
  /** The runner's lease token: every write for this job, the journal's too, is conditional on it. */
  readonly leaseOwner: string;
  readonly source: HostShell;
  readonly target: HostShell;
  /** Persists a phase-state patch (conditional on the lease). */
  save(patch: Partial<PhaseState>): void;
  /** Persists job columns (conditional on the lease). Copy counters are not among them: the journal writes those. */
  saveJob(values: { outageMs?: number }): void;
  log(level: "info" | "warn" | "error", message: string, data?: Record<string, unknown>): void;
  event(type: string, data: Record<string, unknown>): void;
  /** Shows the job as waiting for the operator's cutover (or running again). */
  markWaiting(waiting: boolean): void;
  progress(p: Omit<ProgressMessage, "jobId" | "phase">): void;
  /** Calls `listener` when an operator changes the job's options while it runs; returns the unsubscribe. */
  watchOptions(listener: (options: MigrationOptions) => void): () => void;
  /** Re-reads the job row (cutover and cancel flags are set by the API). */
  reload(): JobRow;
}

export type PhaseResult = { next: string };
export type PhaseFn = (ctx: PhaseContext) => Promise<PhaseResult>;

export interface TransferProgress {
  bytesDone: number;
  bytesTotal: number;
  rangesDone: number;
  rangesTotal: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  /** Chunk runs (in map chunks) confirmed since the last report. */
  doneRuns?: Array<[number, number]>;
}

export interface CopyRequest {
  jobId: number;
  /** The job's lease: the journal confirms ranges and moves the job's counters only while it holds. */
  lease: string;
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

/** The transfer engine as phases see it: verified, journaled, resumable copies. */
export interface Mover {
  copyFull(o: CopyRequest & { bytes: number }): Promise<void>;
  copyExtents(o: CopyRequest & { extents: ExtentMap; chunkBytes: number; deviceBytes: number }): Promise<void>;
  /** Re-reads ranges on both hosts from the devices (transfer/verify.ts) and names the ones that differ. */
  verify(o: VerifyRequest): Promise<{ rangesChecked: number; mismatched: Array<readonly [number, number]> }>;
}

import type { ExtentMap } from "@blockferry/changes";
import type { ProgressMessage } from "@blockferry/contracts";
import type { JobRow } from "../db/repositories/jobs.ts";

/** Run a command on one host: what phases need from the SSH layer, and nothing more. */
export interface HostShell {
  readonly hostId: number;
  readonly name: string;
  /**
   * Runs one command; a non-zero exit throws the SSH layer's typed error. Abort (and timeout) kill its process
   * group; `stop: "term"` only sends SIGTERM and lets it finish what it defers (LVM changes: see ExecOptions).
   */
  run(
    command: string,
    opts?: { timeoutMs?: number; signal?: AbortSignal; stdin?: string; stop?: "kill" | "term" },
  ): Promise<string>;
  /** Random-access reads of a remote file or device (SFTP), for COW metadata; reads reject once `signal` aborts. */
  openByteSource(
    path: string,
    opts?: { signal?: AbortSignal },
  ): Promise<{
    size(): Promise<number>;
    read(offset: number, length: number): Promise<Uint8Array>;
    close(): Promise<void>;
  }>;
}

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
  /**
   * Where the VM is to be started, stored before the start command runs (fencing: see start-fence.ts). Cleared
   * once a rollback has started it again on the source, so that a retry can decide again.
   */
  startDecision?: { host: "source" | "target"; at: number };
  /** Rollbacks so far: each retry's final delta is a new journal pass. */
  rollbacks?: number;
  /** Epoch ms: when an automatic cutover the gate refused is tried again. */
  cutoverRetryAt?: number;
  fullCopyFallbacks?: number;
  [key: string]: unknown;
}

export interface PhaseContext {
  readonly job: JobRow;
  readonly state: PhaseState;
  readonly signal: AbortSignal;
  readonly source: HostShell;
  readonly target: HostShell;
  /** Persists a phase-state patch (conditional on the lease). */
  save(patch: Partial<PhaseState>): void;
  /** Persists job columns such as counters or outage (conditional on the lease). */
  saveJob(values: {
    bytesTotal?: number;
    bytesDone?: number;
    rangesTotal?: number;
    rangesDone?: number;
    outageMs?: number;
    /** Cleared when the cutover gate refuses an operator's cutover: the operator confirms again. */
    cutoverRequested?: boolean;
  }): void;
  log(level: "info" | "warn" | "error", message: string, data?: Record<string, unknown>): void;
  event(type: string, data: Record<string, unknown>): void;
  /** Shows the job as waiting for the operator's cutover (or running again). */
  markWaiting(waiting: boolean): void;
  progress(p: Omit<ProgressMessage, "jobId" | "phase">): void;
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
  /** Journal key of this copy: "full-g1", "catchup-2", "final". */
  pass: string;
  source: { hostId: number; device: string };
  target: { hostId: number; device: string };
  /** A fresh thin LV reads zeroes: all-zero ranges need not be written at all. */
  targetReadsZero: boolean;
  bandwidthBytesPerSecond?: number;
  /** gzip on the source (job option). */
  compress?: boolean;
  /** Unit of `doneRuns` in progress reports: the job's chunk-map cell. */
  mapChunkBytes: number;
  signal: AbortSignal;
  onProgress(p: TransferProgress): void;
}

/** The transfer engine as phases see it: verified, journaled, resumable copies. */
export interface Mover {
  copyFull(o: CopyRequest & { bytes: number }): Promise<void>;
  copyExtents(o: CopyRequest & { extents: ExtentMap; chunkBytes: number; deviceBytes: number }): Promise<void>;
  /** Changes the limit of a job's running copy (bytes per second; null: unlimited). */
  setBandwidth?(jobId: number, bytesPerSecond: number | null): void;
}

import type { ExtentMap } from "@blockferry/changes";
import type { EventData, LogDetails, LogLevel, PhaseState, ProgressMessage } from "@blockferry/contracts";
import type { Phase } from "@blockferry/contracts/vocabulary";
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

/** What a phase stores to be re-runnable after a crash (schema in contracts: the jobs repository checks it). */
export type { PhaseState } from "@blockferry/contracts";
/**
 * A cancel is accepted only before the job enters the point of no return (start_vm); the service and the executor
 * decide that with conditional updates, so exactly one of them wins a race.
 */
export { isPastNoReturn, NO_RETURN_PHASES } from "@blockferry/contracts/vocabulary";

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
  }): void;
  log(level: LogLevel, message: string, details?: LogDetails): void;
  /** Stores one of the events a phase records; the runner adds the phase it runs in. */
  event<T extends PhaseEventType>(type: T, data: Omit<EventData<T>, "phase">): void;
  /** Shows the job as waiting for the operator's cutover (or running again). */
  markWaiting(waiting: boolean): void;
  progress(p: Omit<ProgressMessage, "jobId" | "phase">): void;
  /** Re-reads the job row (cutover and cancel flags are set by the API). */
  reload(): JobRow;
}

/** Events phases record through ctx.event (the others are the runner's and the services'). */
export type PhaseEventType = "job.snapshot" | "job.verified" | "job.outage";

export type PhaseResult = { next: Phase };
export type PhaseFn = (ctx: PhaseContext) => Promise<PhaseResult>;
/** Every phase a job runs; "done" is where it stops, so it has no function. */
export type RunnablePhase = Exclude<Phase, "done">;
export type PhaseTable = Record<RunnablePhase, PhaseFn>;

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

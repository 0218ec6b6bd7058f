import { randomUUID } from "node:crypto";
import type { JobRow, JobsRepo } from "../db/repositories/jobs.ts";

/** Why a job's work was interrupted; the executor decides what each means. */
export type StopReason = "cancel" | "lease_lost" | "shutdown";

export class JobInterrupted extends Error {
  constructor(readonly reason: StopReason) {
    super(`job interrupted: ${reason}`);
    this.name = "JobInterrupted";
  }
}

/** What the runner hands the executor for one claimed job. */
export interface Lease {
  owner: string;
  /** Aborted with a JobInterrupted reason on cancel request, lost lease or shutdown. */
  signal: AbortSignal;
  /**
   * Calls `listener` with the job's options whenever an operator changed them while it runs (a new bandwidth
   * limit applies to the copy already running); returns the unsubscribe.
   */
  watchOptions?(listener: (options: JobRow["options"]) => void): () => void;
}

export type ExecuteJob = (job: JobRow, lease: Lease) => Promise<void>;

export interface RunnerOptions {
  leaseMs?: number;
  pollMs?: number;
  maxJobs?: number;
  maxJobsPerHost?: number;
  /**
   * A runnable job waits for a slot on a host (its maxConcurrency, or this runner's maxJobsPerHost): called once
   * per job and reason, so the job's log says why it has not started.
   */
  onWaiting?(job: JobRow, reason: string): void;
}

interface Running {
  job: JobRow;
  controller: AbortController;
  done: Promise<void>;
  /** The options the execution last heard of (JSON), and who listens for changes. */
  options: string;
  optionListeners: Set<(options: JobRow["options"]) => void>;
}

/**
 * Claims runnable jobs from the database and executes them under a lease. It keeps no job state of its own:
 * after a crash, the leases expire and any runner (this process restarted, or another) continues the jobs.
 */
export class JobRunner {
  readonly owner = randomUUID();
  private readonly running = new Map<number, Running>();
  private timer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly maxJobs: number;
  private readonly maxJobsPerHost: number;
  private readonly onWaiting: (job: JobRow, reason: string) => void;
  /** The reason each waiting job was last given, so it is said once. */
  private readonly waiting = new Map<number, string>();

  constructor(
    private readonly jobs: Pick<JobsRepo, "claimable" | "claim" | "renew" | "release" | "hostLoad">,
    private readonly execute: ExecuteJob,
    private readonly onError: (err: unknown, job: JobRow) => void,
    opts: RunnerOptions = {},
  ) {
    this.leaseMs = opts.leaseMs ?? 10_000;
    this.pollMs = opts.pollMs ?? 500;
    this.maxJobs = opts.maxJobs ?? 8;
    this.maxJobsPerHost = opts.maxJobsPerHost ?? 2;
    this.onWaiting = opts.onWaiting ?? (() => {});
  }

  start(): void {
    this.timer = setInterval(() => this.poll(), this.pollMs);
    this.renewTimer = setInterval(() => this.renewAll(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.poll();
  }

  /** Look for work now (after a job was created or retried); a runner that was not started stays idle. */
  kick(): void {
    if (this.timer && !this.stopping) setImmediate(() => this.poll());
  }

  /**
   * An operator cancelled a job: if this runner executes it, interrupt it now rather than at the next lease
   * renewal (a runner in another process sees the flag then).
   */
  interrupt(jobId: number): void {
    const r = this.running.get(jobId);
    if (r && !r.controller.signal.aborted) r.controller.abort(new JobInterrupted("cancel"));
  }

  /**
   * An operator changed a job's options (already stored): if this runner executes it, its execution hears now
   * (a runner in another process hears at its next lease renewal, which compares the stored options).
   */
  updateOptions(jobId: number, options: JobRow["options"]): void {
    const r = this.running.get(jobId);
    if (r) this.notifyOptions(r, options);
  }

  private notifyOptions(r: Running, options: JobRow["options"]): void {
    const json = JSON.stringify(options);
    if (json === r.options) return;
    r.options = json;
    for (const listener of r.optionListeners) listener(options);
  }

  isRunning(jobId: number): boolean {
    return this.running.has(jobId);
  }

  /** Stops claiming, interrupts running jobs and releases their leases so a successor can resume at once. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    for (const r of this.running.values()) r.controller.abort(new JobInterrupted("shutdown"));
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private poll(): void {
    if (this.stopping) return;
    const claimable = this.jobs.claimable();
    const ids = new Set(claimable.map((j) => j.id));
    for (const id of this.waiting.keys()) if (!ids.has(id)) this.waiting.delete(id);
    for (const job of claimable) {
      if (this.running.size >= this.maxJobs) return;
      if (this.running.has(job.id)) continue;
      const full = this.fullHost(job);
      if (full) {
        if (this.waiting.get(job.id) !== full) this.onWaiting(job, full);
        this.waiting.set(job.id, full);
        continue;
      }
      // The claim checks the hosts' slots again, atomically: another runner may have taken the last one.
      const claimed = this.jobs.claim(job.id, this.owner, this.leaseMs);
      if (claimed) {
        this.waiting.delete(job.id);
        this.launch(claimed);
      }
    }
  }

  /** Why the job cannot start now (a host of it is full), or null. */
  private fullHost(job: JobRow): string | null {
    for (const hostId of new Set([job.sourceHostId, job.targetHostId])) {
      const mine = [...this.running.values()].filter(
        (r) => r.job.sourceHostId === hostId || r.job.targetHostId === hostId,
      ).length;
      const load = this.jobs.hostLoad(hostId);
      const name = load ? `"${load.name}"` : `${hostId}`;
      if (mine >= this.maxJobsPerHost)
        return `waiting for a free slot on host ${name}: this server runs ${mine} migrations there (at most ${this.maxJobsPerHost})`;
      if (load && load.busy >= load.limit)
        return `waiting for a free slot on host ${name}: ${load.busy} migrations run there, its limit is ${load.limit}`;
    }
    return null;
  }

  private launch(job: JobRow): void {
    const controller = new AbortController();
    if (job.cancelRequested && job.state !== "cancelling") controller.abort(new JobInterrupted("cancel"));
    const entry: Running = {
      job,
      controller,
      done: Promise.resolve(),
      options: JSON.stringify(job.options),
      optionListeners: new Set(),
    };
    const watchOptions = (listener: (options: JobRow["options"]) => void) => {
      entry.optionListeners.add(listener);
      return () => entry.optionListeners.delete(listener);
    };
    entry.done = this.execute(job, { owner: this.owner, signal: controller.signal, watchOptions })
      .catch((err: unknown) => this.onError(err, job))
      .finally(() => {
        this.running.delete(job.id);
        this.jobs.release(job.id, this.owner);
        this.kick();
      });
    this.running.set(job.id, entry);
  }

  private renewAll(): void {
    for (const [id, r] of this.running) {
      const row = this.jobs.renew(id, this.owner, this.leaseMs);
      if (!row) {
        r.controller.abort(new JobInterrupted("lease_lost"));
        continue;
      }
      this.notifyOptions(r, row.options);
      if (row.cancelRequested && row.state !== "cancelling" && !r.controller.signal.aborted)
        r.controller.abort(new JobInterrupted("cancel"));
    }
  }
}

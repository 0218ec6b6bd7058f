import type { ProgressMessage } from "@blockferry/contracts";

interface Pending {
  latest: ProgressMessage | null;
  runs: Array<[number, number]>;
  lastEmit: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Coalesces per-job progress: emits at most once per interval with the newest counters and every chunk run
 * reported since the previous emit, and always emits the trailing update.
 */
export class ProgressThrottle {
  private readonly jobs = new Map<number, Pending>();

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (p: ProgressMessage) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  offer(p: ProgressMessage): void {
    let pending = this.jobs.get(p.jobId);
    if (!pending) {
      pending = { latest: null, runs: [], lastEmit: 0, timer: null };
      this.jobs.set(p.jobId, pending);
    }
    pending.latest = p;
    if (p.doneRuns) for (const r of p.doneRuns) pending.runs.push(r);
    const wait = pending.lastEmit + this.intervalMs - this.clock();
    if (wait <= 0) this.flush(p.jobId);
    else if (!pending.timer) pending.timer = setTimeout(() => this.flush(p.jobId), wait);
  }

  flush(jobId: number): void {
    const pending = this.jobs.get(jobId);
    if (!pending?.latest) return;
    if (pending.timer) clearTimeout(pending.timer);
    const message: ProgressMessage = { ...pending.latest, doneRuns: pending.runs };
    pending.timer = null;
    pending.latest = null;
    pending.runs = [];
    pending.lastEmit = this.clock();
    this.emit(message);
  }

  close(): void {
    for (const p of this.jobs.values()) if (p.timer) clearTimeout(p.timer);
    this.jobs.clear();
  }
}

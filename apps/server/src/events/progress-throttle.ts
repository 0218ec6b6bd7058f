import type { ProgressMessage } from "@blockferry/contracts";

interface Pending {
  latest: ProgressMessage | null;
  runs: Array<[number, number]>;
  lastEmit: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Coalesces progress per job and disk: emits at most once per interval with the newest counters and every chunk
 * run reported since the previous emit, and always emits the trailing update. Per disk, because a set's disks
 * copy at once: coalesced per job, one disk's counters replaced the other's and its finished chunks were sent
 * under the other disk's index (and painted on that disk's chunk map).
 */
export class ProgressThrottle {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (p: ProgressMessage) => void,
    private readonly clock: () => number = Date.now,
  ) {}

  offer(p: ProgressMessage): void {
    const key = keyOf(p.jobId, p.disk ?? 0);
    let pending = this.pending.get(key);
    if (!pending) {
      pending = { latest: null, runs: [], lastEmit: 0, timer: null };
      this.pending.set(key, pending);
    }
    pending.latest = p;
    if (p.doneRuns) for (const r of p.doneRuns) pending.runs.push(r);
    const wait = pending.lastEmit + this.intervalMs - this.clock();
    if (wait <= 0) this.flushKey(key);
    else if (!pending.timer) pending.timer = setTimeout(() => this.flushKey(key), wait);
  }

  /** Emits what every disk of the job has pending. */
  flush(jobId: number): void {
    for (const key of this.pending.keys()) if (key.startsWith(`${jobId}/`)) this.flushKey(key);
  }

  private flushKey(key: string): void {
    const pending = this.pending.get(key);
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
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    this.pending.clear();
  }
}

const keyOf = (jobId: number, disk: number) => `${jobId}/${disk}`;

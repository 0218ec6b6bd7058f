import type { EventStream } from "@blockferry/client";
import type { OutagePrediction, Phase, ProgressMessage, StoredEvent } from "@blockferry/contracts";
import { pageEventStream, type SocketFactory, type StreamStatus } from "../../lib/event-stream.ts";

export interface LogLine {
  id: number;
  at: string;
  level: string;
  message: string;
}

export interface ThroughputSample {
  t: number;
  bytesPerSecond: number;
}

export interface JobStreamSnapshot {
  status: StreamStatus;
  statusDetail: string | null;
  progress: ProgressMessage | null;
  /**
   * The newest progress of each disk (a one-disk job's as disk 0): a disk set's messages carry one disk's counters
   * each, so the page adds them up rather than showing whichever disk spoke last.
   */
  diskProgress: Readonly<Record<number, ProgressMessage>>;
  /** The newest phase heard of, from events or progress, whichever came last. */
  phase: Phase | null;
  /** When each phase was entered, from job.phase / job.state events. */
  phaseStarts: Record<string, string>;
  snapshotFillPercent: number | null;
  /** Each disk's snapshot fill (job.snapshot), for a disk set. */
  diskSnapshotFill: Readonly<Record<number, number>>;
  outageMs: number | null;
  /** The newest outage prediction heard of (job.prediction): the page compares it with the job row's by time. */
  prediction: OutagePrediction | null;
  /** Bumped on every stored event that changes the job row, so the page refetches it. */
  jobVersion: number;
  /** Bumped whenever the log window changes. */
  logVersion: number;
}

type Runs = readonly (readonly [number, number])[];
/** Chunk runs of one disk (a one-disk job's are disk 0's). */
type RunsListener = (runs: Runs, phase: string, disk: number) => void;
type InFlightListener = (runs: Runs, disk: number) => void;

export const LOG_WINDOW = 2_000;
const THROUGHPUT_WINDOW = 600;
/** A disk's last reported rate counts toward the job's for this long (progress comes ~10 times a second). */
const RATE_FRESH_MS = 3_000;

/**
 * Everything the live job page shows, fed by one event stream. Logs sit in a fixed-size ring and throughput in a
 * bounded array, never in one growing string or React state; React is told at most once per animation frame that
 * something changed, however fast events arrive (a replay can deliver thousands at once).
 */
export class JobStreamStore {
  private snapshot: JobStreamSnapshot = {
    status: "connecting",
    statusDetail: null,
    progress: null,
    diskProgress: {},
    phase: null,
    phaseStarts: {},
    snapshotFillPercent: null,
    diskSnapshotFill: {},
    outageMs: null,
    prediction: null,
    jobVersion: 0,
    logVersion: 0,
  };
  private readonly log: LogLine[] = [];
  private logStart = 0;
  private droppedLines = 0;
  private readonly samples: ThroughputSample[] = [];
  private readonly listeners = new Set<() => void>();
  private readonly runListeners = new Set<RunsListener>();
  private readonly inFlightListeners = new Set<InFlightListener>();
  private readonly inFlight = new Map<number, Runs>();
  private readonly rates = new Map<number, ThroughputSample>();
  private frame: number | null = null;
  private pending: Partial<JobStreamSnapshot> | null = null;
  private stream: EventStream | null = null;

  constructor(
    readonly jobId: number,
    private readonly connect?: SocketFactory,
  ) {}

  start(): void {
    this.stream = pageEventStream(
      { path: "/api/events/stream", jobId: this.jobId, after: 0, ...(this.connect ? { connect: this.connect } : {}) },
      {
        event: (e) => this.onEvent(e),
        progress: (p) => this.onProgress(p),
        status: (status, detail) => this.update({ status, statusDetail: detail ?? null }),
      },
    ).start();
  }

  stop(): void {
    this.stream?.close();
    this.stream = null;
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  getSnapshot = () => this.snapshot;

  /** Chunk runs finished, delivered synchronously to the canvas (which batches its own drawing). */
  onRuns(listener: RunsListener): () => void {
    this.runListeners.add(listener);
    return () => {
      this.runListeners.delete(listener);
    };
  }

  /**
   * Chunk runs streamed but not yet confirmed, per disk: called with each disk's current set right away, then with
   * every new set (each replaces that disk's previous one).
   */
  onInFlight(listener: InFlightListener): () => void {
    this.inFlightListeners.add(listener);
    for (const [disk, runs] of this.inFlight) listener(runs, disk);
    return () => {
      this.inFlightListeners.delete(listener);
    };
  }

  /** The log window in order, oldest first, and how many older lines fell out of it. */
  logLines(): { lines: readonly LogLine[]; start: number; dropped: number } {
    return { lines: this.log, start: this.logStart, dropped: this.droppedLines };
  }

  logLine(i: number): LogLine | undefined {
    return this.log[(this.logStart + i) % LOG_WINDOW];
  }

  get logLength(): number {
    return this.log.length;
  }

  throughput(): readonly ThroughputSample[] {
    return this.samples;
  }

  private onEvent(e: StoredEvent): void {
    switch (e.type) {
      case "job.log":
        this.pushLog({ id: e.id, at: e.at, level: e.data.level, message: e.data.message });
        // A copy's data path was decided: the job row stores it (the "Data path" line reads it from there).
        if (e.data.dataPath) this.update({ jobVersion: this.current().jobVersion + 1 });
        return;
      case "job.phase":
      case "job.state": {
        const { phase } = e.data;
        const starts = this.current().phaseStarts;
        const phaseStarts = phase in starts ? starts : { ...starts, [phase]: e.at };
        this.update({ phaseStarts, phase, jobVersion: this.current().jobVersion + 1 });
        const note = e.type === "job.state" ? `state → ${e.data.state}` : `phase → ${phase}`;
        this.pushLog({ id: e.id, at: e.at, level: "event", message: note });
        return;
      }
      case "job.snapshot":
        this.update({
          snapshotFillPercent: e.data.fillPercent,
          diskSnapshotFill: { ...this.current().diskSnapshotFill, [e.data.disk ?? 0]: e.data.fillPercent },
        });
        return;
      case "job.prediction":
        // Carried by the event itself: no refetch of the job for a figure that moves every few seconds.
        this.update({ prediction: e.data.prediction });
        return;
      case "job.outage":
        this.update({ outageMs: e.data.outageMs, jobVersion: this.current().jobVersion + 1 });
        return;
      default:
        this.update({ jobVersion: this.current().jobVersion + 1 });
    }
  }

  private onProgress(p: ProgressMessage): void {
    const disk = p.disk ?? 0;
    if (p.doneRuns && p.doneRuns.length > 0) for (const l of this.runListeners) l(p.doneRuns, p.phase, disk);
    // A server without in-flight reports sends none: nothing is shown in flight then.
    const inFlight = p.inFlightRuns ?? [];
    if (inFlight.length > 0 || (this.inFlight.get(disk)?.length ?? 0) > 0) {
      this.inFlight.set(disk, inFlight);
      for (const l of this.inFlightListeners) l(inFlight, disk);
    }
    // Disks copying side by side each report their own rate: the job's is their sum (of those heard lately).
    const now = Date.now();
    this.rates.set(disk, { t: now, bytesPerSecond: p.bytesPerSecond });
    let bytesPerSecond = 0;
    for (const r of this.rates.values()) if (now - r.t <= RATE_FRESH_MS) bytesPerSecond += r.bytesPerSecond;
    this.samples.push({ t: now, bytesPerSecond });
    if (this.samples.length > THROUGHPUT_WINDOW) this.samples.splice(0, this.samples.length - THROUGHPUT_WINDOW);
    // The snapshot's fill level comes from stored job.snapshot events, not from progress.
    this.update({ progress: p, phase: p.phase, diskProgress: { ...this.current().diskProgress, [disk]: p } });
  }

  private pushLog(line: LogLine): void {
    if (this.log.length < LOG_WINDOW) this.log.push(line);
    else {
      this.log[this.logStart] = line;
      this.logStart = (this.logStart + 1) % LOG_WINDOW;
      this.droppedLines++;
    }
    this.update({ logVersion: this.current().logVersion + 1 });
  }

  private current(): JobStreamSnapshot {
    return this.pending ? { ...this.snapshot, ...this.pending } : this.snapshot;
  }

  /** Collects changes and publishes one new snapshot per animation frame. */
  private update(patch: Partial<JobStreamSnapshot>): void {
    this.pending = { ...this.pending, ...patch };
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      if (!this.pending) return;
      this.snapshot = { ...this.snapshot, ...this.pending };
      this.pending = null;
      for (const l of this.listeners) l();
    });
  }
}

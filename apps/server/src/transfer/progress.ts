import type { ProgressMessage } from "@blockferry/contracts";
import type { ByteRun } from "./plan.ts";

/** What the engine reports while a pass runs; the job runner adds jobId and phase. */
export type TransferProgress = Omit<ProgressMessage, "jobId" | "phase">;

/**
 * The rate to show and the time left: the measured rate, never above the bandwidth limit (a token bucket lets a
 * short window measure a burst above it); no ETA until something was measured.
 */
export function rateAndEta(o: {
  leftBytes: number;
  measuredBytesPerSecond: number;
  limitBytesPerSecond: number | null;
}): { bytesPerSecond: number; etaSeconds: number | null } {
  const measured = Math.max(0, o.measuredBytesPerSecond);
  const rate = o.limitBytesPerSecond !== null ? Math.min(measured, o.limitBytesPerSecond) : measured;
  const left = Math.max(0, o.leftBytes);
  return { bytesPerSecond: Math.round(rate), etaSeconds: left === 0 ? 0 : rate > 0 ? left / rate : null };
}

/**
 * Bytes per second over about the last `windowMs`: a count that only grows, sampled as it grows. The oldest
 * sample kept is the last one at or before the window's start, so a stall shows as a falling rate. The window
 * opens at the first bytes, not at its creation: a short pass (a final delta of a few MiB) would otherwise count
 * the time its processes took to start as transfer time and show an ETA many times too long.
 */
export class RateWindow {
  private samples: [t: number, total: number][] = [];
  private total = 0;

  constructor(
    private readonly windowMs = 5000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(bytes: number): void {
    this.total += bytes;
    const t = this.now();
    if (this.samples.length === 0) {
      // The first bytes mark when data began to flow; the rate counts what came after them.
      this.samples.push([t, this.total]);
      return;
    }
    const last = this.samples[this.samples.length - 1] as [number, number];
    // One sample per 100 ms is plenty for a window of seconds.
    if (t - last[0] < 100 && this.samples.length > 1) last[1] = this.total;
    else this.samples.push([t, this.total]);
    this.trim(t);
  }

  bytesPerSecond(): number {
    const t = this.now();
    this.trim(t);
    const first = this.samples[0];
    if (!first) return 0;
    const [t0, total0] = first;
    const seconds = (t - t0) / 1000;
    return seconds > 0 ? (this.total - total0) / seconds : 0;
  }

  private trim(t: number): void {
    while (this.samples.length > 1 && (this.samples[1] as [number, number])[0] <= t - this.windowMs)
      this.samples.shift();
  }
}

/** One attempt at a batch: its ranges in device order and how many of their bytes went through so far. */
export interface Flight {
  readonly ranges: readonly ByteRun[];
  streamed: number;
}

/** Runs of `unit`-sized cells covering `ranges`, adjacent ones joined. */
function cellRuns(ranges: Iterable<ByteRun>, unit: number): [number, number][] {
  const runs: [number, number][] = [];
  for (const [offset, length] of ranges) {
    if (length <= 0) continue;
    const first = Math.floor(offset / unit);
    const end = Math.ceil((offset + length) / unit);
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] >= first) last[1] = Math.max(last[1], end - last[0]);
    else runs.push([first, end - first]);
  }
  return runs;
}

/** The first `bytes` of the ranges (a batch streams its ranges in device order). */
function prefix(ranges: readonly ByteRun[], bytes: number): ByteRun[] {
  const out: ByteRun[] = [];
  let left = bytes;
  for (const [offset, length] of ranges) {
    if (left <= 0) break;
    out.push([offset, Math.min(length, left)]);
    left -= length;
  }
  return out;
}

/**
 * Counts confirmed ranges and the bytes of batches in flight, and turns them into progress: the rate measured over
 * the last seconds of bytes streamed (retries included: they cost the link too), the ETA from it, chunk runs
 * confirmed for the live map and the runs streamed but not yet confirmed. Confirmed counts move only on confirm.
 */
export class ProgressTracker {
  private readonly flights = new Set<Flight>();
  private readonly rate: RateWindow;

  constructor(
    private bytesDone: number,
    private readonly bytesTotal: number,
    private rangesDone: number,
    private readonly rangesTotal: number,
    /** Unit of `doneRuns` and `inFlightRuns`: the chunk size of the caller's chunk map. */
    private readonly mapChunkBytes: number,
    private readonly opts: { limitBytesPerSecond?: () => number | null; now?: () => number } = {},
  ) {
    this.rate = new RateWindow(5000, opts.now);
  }

  /** An attempt at a batch starts: its bytes count as streamed as `streamed()` reports them. */
  begin(ranges: readonly ByteRun[]): Flight {
    const flight: Flight = { ranges, streamed: 0 };
    this.flights.add(flight);
    return flight;
  }

  streamed(flight: Flight, bytes: number): void {
    flight.streamed += bytes;
    this.rate.add(bytes);
  }

  /** The attempt ended (confirmed, failed or to be retried): its bytes are no longer in flight. */
  end(flight: Flight): void {
    this.flights.delete(flight);
  }

  confirmed(ranges: readonly ByteRun[]): TransferProgress {
    for (const [, length] of ranges) {
      this.bytesDone += length;
      this.rangesDone++;
    }
    return { ...this.snapshot(), doneRuns: cellRuns(ranges, this.mapChunkBytes) };
  }

  snapshot(): TransferProgress {
    let inFlight = 0;
    const streamedRanges: ByteRun[] = [];
    for (const f of this.flights) {
      const size = f.ranges.reduce((a, [, l]) => a + l, 0);
      inFlight += Math.min(size, f.streamed);
      streamedRanges.push(...prefix(f.ranges, f.streamed));
    }
    streamedRanges.sort((a, b) => a[0] - b[0]);
    const bytesStreamed = Math.min(inFlight, this.bytesTotal - this.bytesDone);
    const { bytesPerSecond, etaSeconds } = rateAndEta({
      leftBytes: this.bytesTotal - this.bytesDone - bytesStreamed,
      measuredBytesPerSecond: this.rate.bytesPerSecond(),
      limitBytesPerSecond: this.opts.limitBytesPerSecond?.() ?? null,
    });
    return {
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      rangesDone: this.rangesDone,
      rangesTotal: this.rangesTotal,
      bytesPerSecond,
      // Everything streamed but not confirmed still has its read-back ahead: no ETA of 0 before the last confirm.
      etaSeconds: this.bytesDone === this.bytesTotal ? 0 : etaSeconds === 0 ? null : etaSeconds,
      bytesStreamed,
      inFlightRuns: cellRuns(streamedRanges, this.mapChunkBytes),
    };
  }
}

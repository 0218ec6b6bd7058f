import type { ProgressMessage } from "@blockferry/contracts";
import type { ByteRun } from "./plan.ts";

/** What the engine reports after each confirmed batch; the job runner adds jobId and phase. */
export type TransferProgress = Omit<ProgressMessage, "jobId" | "phase">;

/** Counts confirmed ranges and turns them into progress: rate over this run, ETA, chunk runs for the live map. */
export class ProgressTracker {
  private readonly started = performance.now();
  private bytesThisRun = 0;

  constructor(
    private bytesDone: number,
    private readonly bytesTotal: number,
    private rangesDone: number,
    private readonly rangesTotal: number,
    /** Unit of `doneRuns`: the chunk size of the caller's chunk map. */
    private readonly mapChunkBytes: number,
  ) {}

  confirmed(ranges: readonly ByteRun[]): TransferProgress {
    const doneRuns: [number, number][] = [];
    for (const [offset, length] of ranges) {
      this.bytesDone += length;
      this.bytesThisRun += length;
      this.rangesDone++;
      const first = Math.floor(offset / this.mapChunkBytes);
      const end = Math.ceil((offset + length) / this.mapChunkBytes);
      const last = doneRuns[doneRuns.length - 1];
      if (last && last[0] + last[1] >= first) last[1] = Math.max(last[1], end - last[0]);
      else doneRuns.push([first, end - first]);
    }
    return { ...this.snapshot(), doneRuns };
  }

  snapshot(): TransferProgress {
    const seconds = (performance.now() - this.started) / 1000;
    const rate = seconds > 0 ? this.bytesThisRun / seconds : 0;
    const left = this.bytesTotal - this.bytesDone;
    return {
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      rangesDone: this.rangesDone,
      rangesTotal: this.rangesTotal,
      bytesPerSecond: Math.round(rate),
      etaSeconds: left === 0 ? 0 : rate > 0 ? left / rate : null,
    };
  }
}

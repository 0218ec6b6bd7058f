import type { ProgressMessage } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { combinedProgress, progressLine } from "../src/lib/progress.ts";

const MiB = 1 << 20;
const base: ProgressMessage = {
  jobId: 1,
  phase: "full_copy",
  bytesDone: 0,
  bytesTotal: 64 * MiB,
  rangesDone: 0,
  rangesTotal: 1,
  bytesPerSecond: MiB,
  etaSeconds: 48,
};

describe("progressLine", () => {
  it("shows bytes streamed ahead of those confirmed", () => {
    expect(progressLine({ ...base, bytesDone: 8 * MiB, bytesStreamed: 8 * MiB }, 8)).toBe(
      "full copy [#=------]  25% 16.0 MiB/64.0 MiB (8.00 MiB confirmed)  1.00 MiB/s  ETA 48 s",
    );
  });

  it("moves while nothing is confirmed yet", () => {
    expect(progressLine({ ...base, bytesStreamed: 32 * MiB }, 8)).toBe(
      "full copy [====----]  50% 32.0 MiB/64.0 MiB (0 B confirmed)  1.00 MiB/s  ETA 48 s",
    );
  });

  it("reads as before from a server that reports no streamed bytes", () => {
    expect(progressLine({ ...base, bytesDone: 64 * MiB, etaSeconds: 0 }, 8)).toBe(
      "full copy [########] 100% 64.0 MiB/64.0 MiB  1.00 MiB/s  ETA 0.0 s",
    );
  });
});

describe("combinedProgress", () => {
  const disk = (n: number, done: number, eta: number | null) => ({
    jobId: 1,
    phase: "full_copy" as const,
    disk: n,
    bytesDone: done,
    bytesTotal: 100,
    rangesDone: 1,
    rangesTotal: 2,
    bytesPerSecond: 10,
    etaSeconds: eta,
    bytesStreamed: 5,
    doneRuns: [[0, 1]] as [number, number][],
  });
  it("adds up a disk set's disks, the slowest disk's ETA last", () => {
    expect(combinedProgress([disk(0, 40, 6), disk(1, 20, 8)])).toEqual({
      jobId: 1,
      phase: "full_copy",
      bytesDone: 60,
      bytesTotal: 200,
      rangesDone: 2,
      rangesTotal: 4,
      bytesPerSecond: 20,
      etaSeconds: 8,
      bytesStreamed: 10,
    });
    expect(combinedProgress([])).toBeNull();
  });
});

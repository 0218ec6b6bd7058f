import { describe, expect, it } from "vitest";
import { ProgressTracker, RateWindow, rateAndEta } from "../../src/transfer/progress.ts";

const MiB = 1 << 20;

describe("rateAndEta", () => {
  it("takes the measured rate when there is no limit", () => {
    expect(rateAndEta({ leftBytes: 10 * MiB, measuredBytesPerSecond: 2 * MiB, limitBytesPerSecond: null })).toEqual({
      bytesPerSecond: 2 * MiB,
      etaSeconds: 5,
    });
  });

  it("never shows more than the bandwidth limit, nor an ETA shorter than the limit allows", () => {
    // A token bucket lets a short window measure a burst above the limit.
    const r = rateAndEta({ leftBytes: 8 * MiB, measuredBytesPerSecond: 1.6 * MiB, limitBytesPerSecond: MiB });
    expect(r).toEqual({ bytesPerSecond: MiB, etaSeconds: 8 });
  });

  it("keeps a measured rate below the limit (the link is the bottleneck)", () => {
    const r = rateAndEta({ leftBytes: 3 * MiB, measuredBytesPerSecond: 0.5 * MiB, limitBytesPerSecond: MiB });
    expect(r).toEqual({ bytesPerSecond: 0.5 * MiB, etaSeconds: 6 });
  });

  it("has no ETA before anything was measured, even with a limit, and 0 when nothing is left", () => {
    expect(rateAndEta({ leftBytes: MiB, measuredBytesPerSecond: 0, limitBytesPerSecond: MiB }).etaSeconds).toBeNull();
    expect(rateAndEta({ leftBytes: 0, measuredBytesPerSecond: 0, limitBytesPerSecond: null }).etaSeconds).toBe(0);
  });
});

describe("RateWindow", () => {
  it("measures over the last window and falls when bytes stop", () => {
    let now = 0;
    const w = new RateWindow(5000, () => now);
    for (let s = 1; s <= 10; s++) {
      now = s * 1000;
      w.add(MiB);
    }
    expect(w.bytesPerSecond()).toBeCloseTo(MiB, -3);
    now = 12_000; // two seconds without a byte
    expect(w.bytesPerSecond()).toBeLessThan(0.8 * MiB);
    now = 30_000;
    expect(w.bytesPerSecond()).toBeLessThan(0.25 * MiB);
  });
});

describe("RateWindow start", () => {
  it("opens at the first bytes: the seconds before data flowed do not slow the rate (or stretch the ETA)", () => {
    let now = 0;
    const w = new RateWindow(5000, () => now);
    expect(w.bytesPerSecond()).toBe(0);
    now = 3000; // three seconds of ssh and dd starting
    w.add(MiB);
    expect(w.bytesPerSecond()).toBe(0); // one sample: nothing measured yet
    now = 3500;
    w.add(MiB);
    expect(w.bytesPerSecond()).toBeCloseTo(2 * MiB, -3);
    const eta = rateAndEta({
      leftBytes: 6 * MiB,
      measuredBytesPerSecond: w.bytesPerSecond(),
      limitBytesPerSecond: null,
    });
    expect(eta.etaSeconds).toBeCloseTo(3, 1);
  });
});

describe("ProgressTracker", () => {
  it("reports bytes streamed in flight besides the confirmed ones, and the cells they cover", () => {
    let now = 0;
    const t = new ProgressTracker(0, 16 * MiB, 0, 2, MiB, { now: () => now, limitBytesPerSecond: () => MiB });
    const a = t.begin([[0, 8 * MiB]]);
    now = 1000;
    t.streamed(a, MiB);
    now = 2000;
    t.streamed(a, MiB);
    const s = t.snapshot();
    expect(s.bytesDone).toBe(0);
    expect(s.bytesStreamed).toBe(2 * MiB);
    expect(s.inFlightRuns).toEqual([[0, 2]]);
    expect(s.bytesPerSecond).toBe(MiB);
    expect(s.etaSeconds).toBe(14);

    now = 8000;
    t.streamed(a, 6 * MiB);
    t.end(a);
    const c = t.confirmed([[0, 8 * MiB]]);
    expect(c).toMatchObject({ bytesDone: 8 * MiB, bytesStreamed: 0, inFlightRuns: [], doneRuns: [[0, 8]] });
  });

  it("drops a failed attempt's bytes from what is in flight", () => {
    const t = new ProgressTracker(0, 8 * MiB, 0, 1, MiB);
    const a = t.begin([[4 * MiB, 4 * MiB]]);
    t.streamed(a, 2 * MiB);
    expect(t.snapshot().inFlightRuns).toEqual([[4, 2]]);
    t.end(a);
    expect(t.snapshot()).toMatchObject({ bytesStreamed: 0, inFlightRuns: [] });
  });
});

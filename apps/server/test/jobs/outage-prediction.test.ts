import { describe, expect, it } from "vitest";
import {
  DEFAULTS,
  type OutageHistory,
  outageAfterOnePass,
  type PredictionInput,
  predictionMoved,
  predictOutage,
  writeRate,
} from "../../src/jobs/outage-prediction.ts";

const MIB = 1 << 20;
const NOW = Date.parse("2026-12-03T06:00:00Z");
const fullCopy = { pass: "full-g1", bytes: 64 * MIB, runs: 1, copyMs: 4000 }; // 16 MiB/s
const base: PredictionInput = {
  changedBytes: 8 * MIB,
  changedRuns: 100,
  writeBytesPerSecond: null,
  readChangesSeconds: 0.5,
  passes: [fullCopy],
  history: null,
  now: NOW,
};
const earlier: OutageHistory = {
  match: "vm",
  samples: [
    {
      jobId: 7,
      stopSeconds: 0.4,
      finalDeltaSeconds: 1.2, // 1 MiB (1/16 s) in 10 runs (0.05 s) + 1.0875 s fixed
      finalBytes: MIB,
      finalRuns: 10,
      verifySeconds: 0.8,
      startSeconds: 0.3,
    },
  ],
};

describe("outage prediction", () => {
  it("is unknown until a pass measured the throughput", () => {
    expect(predictOutage({ ...base, passes: [] })).toBeNull();
    // A pass too small to tell a rate does not count.
    expect(predictOutage({ ...base, passes: [{ pass: "full-g1", bytes: 1000, runs: 1, copyMs: 10 }] })).toBeNull();
  });

  it("adds stop, the delta at the measured rate with a cost per run, verify and start; defaults say so", () => {
    const p = predictOutage(base);
    if (!p) throw new Error("no prediction");
    const delta = 0.5 + DEFAULTS.deltaFixedSeconds + 0.5 + 100 * DEFAULTS.perRunSeconds;
    const verify = DEFAULTS.verifyFixedSeconds + (8 * MIB) / DEFAULTS.verifyBytesPerSecond;
    expect(p.parts.deltaSeconds).toBeCloseTo(delta, 2);
    expect(p.parts.verifySeconds).toBeCloseTo(verify, 2);
    expect(p.outageSeconds).toBeCloseTo(DEFAULTS.stopSeconds + delta + verify + DEFAULTS.startSeconds, 1);
    expect(p).toMatchObject({
      changedBytes: 8 * MIB,
      changedRuns: 100,
      writeBytesPerSecond: null,
      at: new Date(NOW).toISOString(),
    });
    expect(p.basis).toContain("16.0 MiB/s (this migration's full-g1)");
    expect(p.basis).toContain("(assumed: no earlier migration");
    expect(p.basis).toContain("ms per run (assumed)");
  });

  it("takes stop, start and the fixed costs from an earlier migration, and says which", () => {
    const p = predictOutage({ ...base, history: earlier });
    if (!p) throw new Error("no prediction");
    expect(p.parts.stopSeconds).toBe(0.4);
    expect(p.parts.startSeconds).toBe(0.3);
    const fixed = 1.2 - 1 / 16 - 10 * DEFAULTS.perRunSeconds;
    expect(p.parts.deltaSeconds).toBeCloseTo(fixed + 0.5 + 100 * DEFAULTS.perRunSeconds, 2);
    expect(p.basis).toContain("migration #7 of this VM");
    // Nothing left to send: stop, start, and the fixed costs of delta and verify.
    expect(p.idleOutageSeconds).toBeCloseTo(0.4 + 0.3 + fixed + (0.8 - 1 / 50), 1);
    expect(predictOutage({ ...base, history: { ...earlier, match: "hosts" } })?.basis).toContain(
      "migration #7 between these hosts",
    );
  });

  it("takes the median of several earlier migrations, so one slow stop does not decide", () => {
    const [one] = earlier.samples;
    if (!one) throw new Error("no sample");
    const samples = [
      { ...one, jobId: 9, stopSeconds: 26.9 },
      { ...one, jobId: 8, stopSeconds: 0.5 },
      { ...one, jobId: 7, stopSeconds: 0.4, startSeconds: 0.5 },
    ];
    const p = predictOutage({ ...base, history: { match: "hosts", samples } });
    expect(p?.parts.stopSeconds).toBe(0.5);
    expect(p?.parts.startSeconds).toBe(0.3);
    expect(p?.basis).toContain("the median of migrations #9, #8, #7 between these hosts");
  });

  it("measures the cost per run from this migration's catch-up passes", () => {
    // 2 MiB at 16 MiB/s is 0.125 s; the other 0.875 s over 175 runs: 5 ms a run.
    const catchUp = { pass: "catchup-1", bytes: 2 * MIB, runs: 175, copyMs: 1000, readMs: 300 };
    const p = predictOutage({ ...base, passes: [fullCopy, catchUp] });
    expect(p?.basis).toContain("ms per run (this migration's catch-up passes)");
  });

  it("sends no faster than the bandwidth limit", () => {
    const p = predictOutage({ ...base, history: earlier, bandwidthLimit: 4 * MIB });
    const fast = predictOutage({ ...base, history: earlier, bandwidthLimit: 64 * MIB });
    expect(p?.basis).toContain("limited to 4.00 MiB/s by the bandwidth limit");
    expect((p?.parts.deltaSeconds ?? 0) - (fast?.parts.deltaSeconds ?? 0)).toBeGreaterThan(1.2);
  });

  it("counts what the VM writes while it stops", () => {
    const still = predictOutage({ ...base, history: earlier });
    const writing = predictOutage({ ...base, history: earlier, writeBytesPerSecond: 10 * MIB });
    if (!still || !writing) throw new Error("no prediction");
    // 0.4 s of stop at 10 MiB/s: 4 MiB more at 16 MiB/s, plus its runs and its verify.
    expect(writing.parts.deltaSeconds - still.parts.deltaSeconds).toBeGreaterThan(0.25);
    expect(writing.changedBytes).toBe(8 * MIB);
    expect(writing.basis).toContain("more written while the VM stops");
  });

  it("predicts the outage after one more pass from the write rate", () => {
    expect(outageAfterOnePass(base)).toBeNull();
    const idle = outageAfterOnePass({ ...base, history: earlier, writeBytesPerSecond: 0 });
    const nothing = predictOutage({ ...base, history: earlier, changedBytes: 0, changedRuns: 0 });
    expect(idle).toBe(nothing?.outageSeconds);
    const busy = outageAfterOnePass({ ...base, history: earlier, writeBytesPerSecond: 20 * MIB });
    expect(busy).toBeGreaterThan(idle ?? Infinity);
  });

  it("stores an event only when the prediction moved by 10% or a second, or a minute passed", () => {
    const p = predictOutage(base);
    if (!p) throw new Error("no prediction");
    expect(predictionMoved(undefined, p)).toBe(true);
    expect(predictionMoved(p, { ...p })).toBe(false);
    expect(predictionMoved(p, { ...p, outageSeconds: p.outageSeconds * 1.05 })).toBe(false);
    expect(predictionMoved(p, { ...p, outageSeconds: p.outageSeconds * 1.11 })).toBe(true);
    expect(predictionMoved(p, { ...p, changedBytes: p.changedBytes * 1.2 })).toBe(true);
    expect(predictionMoved(p, { ...p, at: new Date(NOW + 60_000).toISOString() })).toBe(true);
  });

  it("measures the write rate over the recent readings", () => {
    expect(writeRate([])).toBeNull();
    expect(writeRate([{ at: 0, changedBytes: 0 }])).toBeNull();
    expect(
      writeRate([
        { at: 0, changedBytes: 0 },
        { at: 500, changedBytes: MIB },
      ]),
    ).toBe(2 * MIB);
    const readings = [
      { at: 0, changedBytes: 0 },
      { at: 20_000, changedBytes: 10 * MIB },
      { at: 25_000, changedBytes: 15 * MIB },
      { at: 30_000, changedBytes: 20 * MIB },
    ];
    // Only the last 15 s count: 10 MiB over 10 s.
    expect(writeRate(readings)).toBe(MIB);
    // A writer that stopped: no growth.
    const idle = [...readings, { at: 40_000, changedBytes: 20 * MIB }, { at: 46_000, changedBytes: 20 * MIB }];
    expect(writeRate(idle)).toBe(0);
    // Readings further apart than the window (a slow host): the last two tell the rate.
    expect(
      writeRate([
        { at: 0, changedBytes: 0 },
        { at: 20_000, changedBytes: 20 * MIB },
      ]),
    ).toBe(MIB);
  });
});

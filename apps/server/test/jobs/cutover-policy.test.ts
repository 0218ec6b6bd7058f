import type { OutagePrediction } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { type CutoverSituation, decideCutover } from "../../src/jobs/cutover-policy.ts";

const NOW = Date.parse("2026-12-03T06:00:00.000Z");
const at = (s: number) => new Date(NOW + s * 1000).toISOString();
const prediction = (outageSeconds: number, writeBytesPerSecond: number | null = 3.1e6): OutagePrediction => ({
  outageSeconds,
  changedBytes: 1e7,
  changedRuns: 100,
  parts: { stopSeconds: 1, deltaSeconds: outageSeconds - 3, verifySeconds: 1, startSeconds: 1 },
  writeBytesPerSecond,
  basis: "test",
  at: at(0),
});
const situation = (o: Partial<CutoverSituation>): CutoverSituation => ({
  policy: { mode: "auto" },
  now: NOW,
  forced: false,
  retryAt: null,
  prediction: null,
  passesRun: 0,
  outageAfterOnePass: null,
  nextLookMs: 5000,
  ...o,
});

describe("cutover policy", () => {
  it("manual waits for the operator; the short auto cuts over at once", () => {
    expect(decideCutover(situation({ policy: { mode: "manual" } }))).toEqual({ action: "wait", wait: null });
    expect(decideCutover(situation({ policy: { mode: "manual" }, forced: true }))).toEqual({ action: "cutover" });
    expect(decideCutover(situation({}))).toEqual({ action: "cutover" });
  });

  it("an operator's cutover overrides every wait of an automatic policy", () => {
    const policy = { mode: "auto" as const, maxOutageSeconds: 1, notBefore: at(3600) };
    expect(decideCutover(situation({ policy, forced: true, retryAt: NOW + 9000 }))).toEqual({ action: "cutover" });
  });

  it("waits for the window to open, and for an operator once it closed", () => {
    const d = decideCutover(situation({ policy: { mode: "auto", notBefore: at(20) } }));
    expect(d).toMatchObject({ action: "wait", wait: { reason: "before_window", until: at(20) } });
    expect(decideCutover(situation({ policy: { mode: "auto", notBefore: at(-1) } }))).toEqual({ action: "cutover" });
    const closed = decideCutover(situation({ policy: { mode: "auto", notAfter: at(-1) } }));
    expect(closed).toMatchObject({ action: "wait", wait: { reason: "window_closed", until: null } });
  });

  it("keeps the gate's retry time", () => {
    const d = decideCutover(situation({ retryAt: NOW + 15_000 }));
    expect(d).toMatchObject({ action: "wait", wait: { reason: "gate_refused", until: at(15) } });
    expect(decideCutover(situation({ retryAt: NOW - 1 }))).toEqual({ action: "cutover" });
  });

  it("with a budget: waits for a prediction, cuts over when it fits, runs passes while it does not", () => {
    const policy = { mode: "auto" as const, maxOutageSeconds: 5 };
    expect(decideCutover(situation({ policy }))).toMatchObject({
      action: "wait",
      wait: { reason: "over_budget", until: at(5) },
    });
    expect(decideCutover(situation({ policy, prediction: prediction(4.9, null) }))).toMatchObject({
      action: "wait",
      wait: { reason: "over_budget" },
    });
    expect(decideCutover(situation({ policy, prediction: prediction(4.9) }))).toEqual({ action: "cutover" });
    const pass = decideCutover(situation({ policy, prediction: prediction(14), passesRun: 2 }));
    expect(pass).toMatchObject({ action: "pass", wait: { reason: "over_budget" } });
    expect(pass.action === "pass" && pass.wait.message).toContain("pass 3 of at most 5");
  });

  it("after maxPasses it waits for an operator and says why with the figures", () => {
    const policy = { mode: "auto" as const, maxOutageSeconds: 5, maxPasses: 5 };
    const d = decideCutover(situation({ policy, prediction: prediction(14), passesRun: 5, outageAfterOnePass: 9 }));
    expect(d).toMatchObject({ action: "wait", wait: { reason: "not_converging", until: null } });
    expect(d.action === "wait" && d.wait?.message).toContain(
      "after 5 passes the predicted outage is 14 s, over the budget of 5 s; the VM writes 2.96 MiB/s",
    );
  });

  it("once the writer slowed down so that one more pass fits, it runs that pass", () => {
    const policy = { mode: "auto" as const, maxOutageSeconds: 5, maxPasses: 5 };
    const d = decideCutover(situation({ policy, prediction: prediction(14, 0), passesRun: 5, outageAfterOnePass: 3 }));
    expect(d).toMatchObject({ action: "pass", wait: { reason: "over_budget" } });
    // A budget below what a cutover with nothing to send costs: it says so.
    const floor = { ...prediction(14, 0), idleOutageSeconds: 6 };
    const low = decideCutover(situation({ policy, prediction: floor, passesRun: 5, outageAfterOnePass: 6 }));
    expect(low.action === "wait" && low.wait?.message).toContain("Even with nothing left to send a cutover takes 6 s");
    // No passes allowed at all: it waits.
    const none = { ...policy, maxPasses: 0 };
    expect(
      decideCutover(situation({ policy: none, prediction: prediction(14, 0), outageAfterOnePass: 3 })),
    ).toMatchObject({ action: "wait", wait: { reason: "not_converging" } });
  });
});

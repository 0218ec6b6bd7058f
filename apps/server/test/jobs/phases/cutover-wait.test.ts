// wait_cutover against a fake LVM host: the live change readings (prediction, changed cells) while it waits, and an
// automatic policy that runs catch-up passes while over its budget, waits when they do not converge, and cuts over
// by itself once the VM's writes stop.
import type { CutoverPolicy } from "@blockferry/contracts";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { jobs } from "../../../src/db/schema.ts";
import { type PhaseSetup, phaseSetup, VOLUME_BYTES } from "../../support/phase-setup.ts";
import { waitFor } from "../../support/wait-for.ts";

const KIB4 = 4096;
const MIB = 1 << 20;
/** What the full copy measured: 16 MiB/s. */
const FULL = { pass: "full-g1", bytes: 64 * MIB, runs: 1, copyMs: 4000 };

async function waiting(cutover: CutoverPolicy): Promise<PhaseSetup> {
  const s = phaseSetup({
    job: {
      cutover: cutover.mode,
      cutoverPolicy: cutover.mode === "auto" ? cutover : null,
      options: { snapshotChunkKiB: 4 },
    },
    state: { sizeBytes: VOLUME_BYTES, fullCopyDone: true, targetCreated: true, passTimings: [FULL] },
  });
  await s.run("snapshot");
  return s;
}
/** Every other 4 KiB chunk from `first`: `count` separate runs. */
const scattered = (s: PhaseSetup, first: number, count: number) => {
  for (let i = 0; i < count; i++) s.source.write("vg0", "vm1", (first + 2 * i) * KIB4, KIB4);
};

describe("wait_cutover", () => {
  let s: PhaseSetup;
  let writer: ReturnType<typeof setInterval> | undefined;
  afterEach(() => {
    clearInterval(writer);
    s.cleanup();
  });

  it("shows the prediction and the live changed cells while the operator decides; the confirmation ends it", async () => {
    s = await waiting({ mode: "manual" });
    scattered(s, 0, 20); // chunks 0..38: map cells (64 KiB) 0..2
    const done = s.run("wait_cutover");
    await waitFor("a prediction with the write rate", () => {
      const p = s.stored().state.prediction;
      return p !== undefined && p.writeBytesPerSecond !== null;
    });
    const { state, events, job } = s.stored();
    expect(job.state).toBe("waiting_cutover");
    expect(state.prediction).toMatchObject({ changedBytes: 20 * KIB4, changedRuns: 20 });
    expect(state.prediction?.basis).toContain("this migration's full-g1");
    expect(state.liveChangedCells).toEqual([[0, 3]]);
    expect(state.cutoverWait).toBeUndefined();
    expect(events.filter((e) => e.type === "job.prediction").length).toBeGreaterThanOrEqual(1);

    s.db.update(jobs).set({ cutoverRequested: true }).where(eq(jobs.id, s.jobId)).run();
    expect(await done).toEqual({ next: "stop_vm" });
    expect(s.stored().job.state).toBe("running");
  });

  it("the short auto cuts over at once, without reading anything", async () => {
    s = await waiting({ mode: "auto" });
    const before = s.source.ran("dmsetup");
    expect(await s.run("wait_cutover")).toEqual({ next: "stop_vm" });
    expect(s.source.ran("dmsetup")).toBe(before);
  });

  it("auto over budget: passes until maxPasses, waits while the VM writes on, cuts over once it stopped", async () => {
    // Defaults (no earlier migration): 5 s stop + 3 s start + 1 s verify + 1 s delta fixed = 10 s with nothing sent.
    s = await waiting({ mode: "auto", maxOutageSeconds: 10.5, maxPasses: 1 });
    // A copy costs 1 ms a run (what the prediction measures in the catch-up passes).
    s.mover.during = (call) => new Promise((r) => setTimeout(r, call.runs?.length ?? 0));
    scattered(s, 0, 1000); // 1000 runs at 5 ms each (assumed until a pass measured it): 5 s more
    expect(await s.run("wait_cutover")).toEqual({ next: "catch_up" });
    let st = s.stored();
    expect(st.state.extraPasses).toBe(1);
    expect(st.state.cutoverWait).toMatchObject({ reason: "over_budget" });
    expect(st.state.cutoverWait?.message).toContain("running catch-up pass 1 of at most 1");
    expect(st.events.some((e) => e.type === "job.cutover_waiting")).toBe(true);

    // The VM keeps writing (~2000 runs/s), during the pass and after it: what it adds while it stops alone is over
    // the budget (5 s of it at 1 ms a run).
    // Paced by the clock, not by the timer's ticks: a loaded machine fires the timer less often, not the VM slower.
    let next = 4000;
    let written = 0;
    const began = performance.now();
    writer = setInterval(() => {
      const due = Math.floor((performance.now() - began) * 2) - written;
      scattered(s, next, due);
      next += 2 * due;
      written += due;
    }, 2);
    expect(await s.run("catch_up")).toEqual({ next: "wait_cutover" });
    expect(s.mover.calls.map((c) => c.pass)).toEqual(["catchup-1"]);
    const stuck = s.run("wait_cutover");
    await waitFor("not_converging", () => s.stored().state.cutoverWait?.reason === "not_converging", 10_000);
    st = s.stored();
    expect(st.job.state).toBe("waiting_cutover");
    expect(st.state.cutoverWait?.message).toMatch(
      /^after 1 pass the predicted outage is .* over the budget of 10.5 s; the VM writes/,
    );
    expect(st.state.cutoverWait?.until).toBeNull();

    // A last burst the snapshot holds (2000 runs: over the budget by themselves), then the writer stops: one more
    // pass now would leave nothing to send, so it runs it.
    clearInterval(writer);
    scattered(s, 1, 2000);
    expect(await stuck).toEqual({ next: "catch_up" });
    expect(s.stored().state.extraPasses).toBe(2);
    expect(await s.run("catch_up")).toEqual({ next: "wait_cutover" });
    expect(await s.run("wait_cutover")).toEqual({ next: "stop_vm" });
    st = s.stored();
    expect(st.state.cutoverWait).toBeUndefined();
    expect(st.state.prediction?.outageSeconds).toBeLessThanOrEqual(10.5);
    expect(s.mover.calls.map((c) => c.pass)).toEqual(["catchup-1", "catchup-2"]);
  });

  it("waits for the window to open without stopping anything", async () => {
    // Far enough ahead that a loaded machine's setup does not reach it before the wait begins.
    const notBefore = new Date(Date.now() + 3000).toISOString();
    s = await waiting({ mode: "auto", notBefore });
    const done = s.run("wait_cutover");
    await waitFor("before_window", () => s.stored().state.cutoverWait?.reason === "before_window");
    expect(s.stored().state.cutoverWait?.until).toBe(notBefore);
    expect(await done).toEqual({ next: "stop_vm" });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(notBefore));
  });
});

// Each live progress message names the pass its counters count, as the journal names it, so a dashboard can say
// whether "3.0 MiB of 12.0 MiB" is the full copy, a catch-up or the final delta; the schema takes only those names.
import { ProgressMessage } from "@blockferry/contracts";
import { Value } from "typebox/value";
import { afterEach, describe, expect, it } from "vitest";
import { MIB, type PhaseSetup, phaseSetup, VM_COMMANDS, VOLUME_BYTES } from "../../support/phase-setup.ts";

/** A job with a small (4 MiB, 4 KiB chunks) snapshot, one catch-up pass, and the VM stopped by commands. */
const setup = (state: Record<string, unknown> = {}) =>
  phaseSetup({
    job: { vm: VM_COMMANDS, options: { snapshotSizeBytes: 4 * MIB, snapshotChunkKiB: 4, catchUpPasses: 1 } },
    state: { sizeBytes: VOLUME_BYTES, ...state },
  });

/** The VM writes more than the 4 MiB snapshot can hold. */
const overflow = (s: PhaseSetup) => s.source.write("vg0", "vm1", 0, 8 * MIB);

describe("the pass of live progress", () => {
  let s: PhaseSetup;
  afterEach(() => s.cleanup());

  it("is the journal's pass of each copy: a fallback's full copy, its catch-up, the final delta", async () => {
    s = setup();
    await s.run("snapshot");
    await s.run("prepare_target");
    s.mover.during = (call) => {
      if (call.pass !== "full-g1") return;
      overflow(s);
      throw new Error("dd: error reading '/dev/vg0/bf-1-s1': Input/output error");
    };
    expect(await s.run("full_copy")).toEqual({ next: "snapshot" });
    await s.run("snapshot");
    await s.run("prepare_target");
    expect(await s.run("full_copy")).toEqual({ next: "catch_up" });
    s.source.write("vg0", "vm1", 0, 4096);
    expect(await s.run("catch_up")).toEqual({ next: "wait_cutover" });
    s.source.write("vg0", "vm1", 4096, 4096);
    await s.run("stop_vm");
    expect(await s.run("final_delta")).toEqual({ next: "verify" });

    // full-g1 failed before it reported anything.
    expect(s.mover.calls.map((c) => c.pass)).toEqual(["full-g1", "full-g2", "catchup-1-f1", "final"]);
    expect(s.progress.map((p) => [p.phase, p.pass])).toEqual([
      ["full_copy", "full-g2"],
      ["catch_up", "catchup-1-f1"],
      ["final_delta", "final"],
    ]);
    for (const p of s.progress) expect(Value.Check(ProgressMessage, p), JSON.stringify(p)).toBe(true);
  });

  it("is the whole-volume final delta of a second cutover after the snapshot overflowed", async () => {
    s = setup({ fullCopyDone: true, targetCreated: true, rollbacks: 1 });
    await s.run("snapshot");
    overflow(s);
    await s.run("stop_vm");
    expect(await s.run("final_delta")).toEqual({ next: "verify" });
    expect(s.progress.map((p) => p.pass)).toEqual(["final-full-r1"]);
    expect(Value.Check(ProgressMessage, s.progress[0])).toBe(true);
  });

  it("is checked by the schema: only the journal's names, and none for an older server", () => {
    const p = {
      jobId: 1,
      phase: "catch_up",
      bytesDone: 0,
      bytesTotal: 1,
      rangesDone: 0,
      rangesTotal: 1,
      bytesPerSecond: 0,
      etaSeconds: null,
    };
    expect(Value.Check(ProgressMessage, p)).toBe(true);
    for (const pass of ["full-g1", "full-g12", "catchup-2", "catchup-3-f1", "final", "final-r2", "final-full-r1"])
      expect(Value.Check(ProgressMessage, { ...p, pass }), pass).toBe(true);
    for (const pass of ["", "full", "full-g0", "catchup-01", "catchup-2-r1", "final-f1", "final\n", "<b>final</b>"])
      expect(Value.Check(ProgressMessage, { ...p, pass }), pass).toBe(false);
  });
});

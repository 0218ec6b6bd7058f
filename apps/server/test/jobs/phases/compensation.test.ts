// Cancel's clean-up against fake LVM hosts: what the job made goes, what it did not make stays, and a VM it
// stopped runs again on the source.
import { afterEach, describe, expect, it } from "vitest";
import type { NewJob } from "../../../src/db/repositories/jobs.ts";
import { type PhaseSetup, phaseSetup, VM_COMMANDS, VOLUME_BYTES } from "../../support/phase-setup.ts";
import { untilAborted } from "../../support/recording-mover.ts";

/** A job that took its snapshot and made its target LV, as a cancel during full_copy finds it. */
async function copying(job: Partial<NewJob> = {}, prepare?: (s: PhaseSetup) => void) {
  const s = phaseSetup({ job, state: { sizeBytes: VOLUME_BYTES } });
  prepare?.(s);
  await s.run("snapshot");
  await s.run("prepare_target");
  return s;
}

describe("compensation (cancel before start_vm)", () => {
  let s: PhaseSetup;
  afterEach(() => s.cleanup());

  it("before the VM was stopped: drops the snapshots and the target LV the job created, and leaves the VM alone", async () => {
    s = await copying({ vm: VM_COMMANDS });
    expect(s.target.lvNames("vg0")).toEqual(["vm1"]);
    await s.compensate();

    expect(s.source.lvNames("vg0")).toEqual(["vm1"]);
    expect(s.target.lvNames("vg0")).toEqual([]);
    expect(s.source.ran("fake-vm")).toBe(0);
    const { liveObjects, logs } = s.stored();
    expect(liveObjects).toEqual([]);
    expect(logs).toEqual(
      expect.arrayContaining([`removed vg0/bf-${s.jobId}-s1 on hv-src`, "removed vg0/vm1 on hv-dst"]),
    );
  });

  it("keeps the target LV when the job was created with removeTargetOnCancel: false", async () => {
    s = await copying({ options: { removeTargetOnCancel: false } });
    await s.compensate();
    expect(s.source.lvNames("vg0")).toEqual(["vm1"]);
    expect(s.target.lvNames("vg0")).toEqual(["vm1"]);
    expect(s.stored().logs).toContain("kept vg0/vm1 on hv-dst as asked");
    expect(s.stored().liveObjects).toEqual([]);
  });

  it("never removes a target LV it did not create (reuseTarget)", async () => {
    s = await copying({ options: { reuseTarget: true } }, (setup) =>
      setup.target.addLv("vg0", "vm1", VOLUME_BYTES, ["operator-made"]),
    );
    expect(s.stored().state.targetCreated).toBe(false);
    await s.compensate();
    expect(s.target.lv("vg0", "vm1")?.tags).toEqual(["operator-made"]);
    expect(s.target.ran("lvremove")).toBe(0);
    expect(s.source.lvNames("vg0")).toEqual(["vm1"]);
  });

  it("after the VM was stopped: restarts it on the source, then cleans up", async () => {
    s = await copying({ vm: VM_COMMANDS });
    expect(await s.run("stop_vm")).toEqual({ next: "final_delta" });
    expect(s.source.vmRunning).toBe(false);
    expect(s.stored().state.vmStoppedAt).toEqual(expect.any(Number));

    await s.compensate();

    expect(s.source.vmRunning).toBe(true);
    expect(s.source.commands).toContain("fake-vm start");
    expect(s.source.lvNames("vg0")).toEqual(["vm1"]);
    expect(s.target.lvNames("vg0")).toEqual([]);
    expect(s.stored().logs).toContain("VM restarted on the source");
  });

  it("restarts the VM even when the stop command itself failed half way (vmStoppedAt is stored first)", async () => {
    s = await copying({ vm: VM_COMMANDS });
    s.source.failNext((argv) => argv[0] === "fake-vm" && argv[1] === "stop", new Error("timed out"));
    await expect(s.run("stop_vm")).rejects.toThrow(/timed out/);
    await s.compensate();
    expect(s.source.commands).toContain("fake-vm start");
  });

  it("a cancel mid-copy stops the copy (no fallback counted), then the clean-up runs", async () => {
    s = await copying();
    const cancel = new AbortController();
    s.mover.during = async (_call, signal) => {
      cancel.abort(new Error("cancelled by the operator"));
      await untilAborted(signal);
    };
    await expect(s.run("full_copy", cancel.signal)).rejects.toThrow(/cancelled by the operator/);
    expect(s.stored().state.fullCopyFallbacks).toBeUndefined();
    await s.compensate();
    expect(s.source.lvNames("vg0")).toEqual(["vm1"]);
    expect(s.target.lvNames("vg0")).toEqual([]);
  });

  it("tries every step when one fails, and a second cancel finishes only what is left", async () => {
    s = await copying({ vm: VM_COMMANDS });
    await s.run("stop_vm");
    s.target.failNext((argv) => argv[0] === "lvremove");
    await expect(s.compensate()).rejects.toThrow(/removing vg0\/vm1 on hv-dst: connection lost/);
    // The VM and the snapshot did not wait for the target.
    expect(s.source.vmRunning).toBe(true);
    expect(s.source.lvNames("vg0")).toEqual(["vm1"]);
    expect(s.stored().liveObjects).toEqual(["target_lv:vg0/vm1"]);

    await s.compensate();
    expect(s.target.lvNames("vg0")).toEqual([]);
    expect(s.stored().liveObjects).toEqual([]);
    const removes = s.source.ran("lvremove") + s.target.ran("lvremove");
    await s.compensate(); // and a third is harmless
    expect(s.source.ran("lvremove") + s.target.ran("lvremove")).toBe(removes);
  });
});

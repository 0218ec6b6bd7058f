// A phase is a function of the job and its stored state: run again after a crash (the server died before it
// stored the next phase, or mid-phase after a command took effect) it must finish the same work, not redo it.
import { afterEach, describe, expect, it } from "vitest";
import type { RunnablePhase } from "../../../src/jobs/context.ts";
import {
  MIB,
  type PhaseSetup,
  phaseSetup,
  VM_COMMANDS,
  VM_COMMANDS_WITH_STATUS,
  VOLUME_BYTES,
} from "../../support/phase-setup.ts";

/** Runs `phase` twice, as a runner restarted from the stored row would. */
async function twice(s: PhaseSetup, phase: RunnablePhase) {
  const first = await s.run(phase);
  const second = await s.run(phase);
  expect(second).toEqual(first);
  return first;
}

describe("re-running a phase after a crash", () => {
  let s: PhaseSetup;
  afterEach(() => s.cleanup());

  it("prepare_target, after the lvcreate took effect but its answer was lost, adopts the LV it made", async () => {
    s = phaseSetup({ state: { sizeBytes: VOLUME_BYTES } });
    s.target.failNext((argv) => argv[0] === "lvcreate", new Error("connection lost"), { afterRunning: true });
    await expect(s.run("prepare_target")).rejects.toThrow(/connection lost/);
    expect(s.stored().liveObjects).toEqual(["target_lv:vg0/vm1"]); // recorded before the command ran

    expect(await twice(s, "prepare_target")).toEqual({ next: "full_copy" });
    expect(s.target.ran("lvcreate")).toBe(1);
    expect(s.target.lv("vg0", "vm1")).toMatchObject({
      sizeBytes: VOLUME_BYTES,
      tags: ["blockferry", `bf-job-${s.jobId}`],
    });
    expect(s.stored().state).toMatchObject({ targetCreated: true });
    expect(s.stored().liveObjects).toEqual(["target_lv:vg0/vm1"]);
  });

  // lvcreate rounds the target up to its VG's extent size: with a target VG of larger extents than the source's
  // (vgcreate -s 32M; the source LV 68 MiB) the LV the job made has 96 MiB. A re-run adopts it as its own: it
  // is recorded, tagged, at least the source size and less than one extent larger.
  it("prepare_target, with a target VG of larger extents, adopts its own rounded-up LV", async () => {
    s = phaseSetup({ state: { sizeBytes: 68 * MIB }, targetExtentBytes: 32 * MIB });
    expect(await twice(s, "prepare_target")).toEqual({ next: "full_copy" });
  });

  it("prepare_target refuses its own LV a whole extent larger, and a reused target of another size", async () => {
    s = phaseSetup({ state: { sizeBytes: 68 * MIB }, targetExtentBytes: 32 * MIB });
    await s.run("prepare_target");
    const own = s.target.lv("vg0", "vm1");
    if (!own) throw new Error("prepare_target made no LV");
    own.sizeBytes = 100 * MIB; // 68 MiB and one whole extent: not what lvcreate made
    await expect(s.run("prepare_target")).rejects.toThrow(
      /has 100 MiB \(104857600 bytes\), the source 68\.0 MiB \(71303168 bytes\)/,
    );
    s.cleanup();

    // Not ours: prechecks ask for the same size to reuse it, and so does prepare_target, rounding or not.
    s = phaseSetup({
      job: { options: { reuseTarget: true } },
      state: { sizeBytes: 68 * MIB },
      targetExtentBytes: 32 * MIB,
    });
    s.target.addLv("vg0", "vm1", 96 * MIB, ["operator-made"]);
    await expect(s.run("prepare_target")).rejects.toThrow(
      /has 96\.0 MiB \(100663296 bytes\), the source 68\.0 MiB \(71303168 bytes\)/,
    );
  });

  it("full_copy asks for the same pass again (its journal resumes it) and stores the same state", async () => {
    s = phaseSetup({ state: { sizeBytes: VOLUME_BYTES } });
    await s.run("snapshot");
    await s.run("prepare_target");
    expect(await twice(s, "full_copy")).toEqual({ next: "catch_up" });
    expect(s.mover.calls.map((c) => [c.pass, c.from])).toEqual([
      ["full-g1", `/dev/vg0/bf-${s.jobId}-s1`],
      ["full-g1", `/dev/vg0/bf-${s.jobId}-s1`],
    ]);
    expect(s.mover.calls[0]).toMatchObject({ kind: "full", bytes: VOLUME_BYTES, targetReadsZero: false });
    expect(s.stored().state).toMatchObject({ fullCopyDone: true, snapshotGen: 1 });
    // The counters are the transfer journal's to write (tested with the engine), not the phase's.
    expect(s.mover.calls.every((c) => c.lease === s.stored().job.leaseOwner)).toBe(true);
  });

  it("stop_vm keeps the first stop time, so the outage is measured from when the VM really stopped", async () => {
    s = phaseSetup({ job: { vm: VM_COMMANDS }, state: { sizeBytes: VOLUME_BYTES } });
    // The cutover gate before the stop wants the snapshot and the target LV.
    await s.run("snapshot");
    await s.run("prepare_target");
    await s.run("stop_vm");
    const stoppedAt = s.stored().state.vmStoppedAt;
    await s.run("stop_vm");
    expect(s.stored().state.vmStoppedAt).toBe(stoppedAt);
    expect(s.source.vmRunning).toBe(false);
    // The outage's start is announced once, with the stored time (the dashboard's banner counts from it).
    const announced = s.stored().events.filter((e) => e.type === "job.vm_stopped");
    expect(announced.map((e) => e.data)).toEqual([{ phase: "stop_vm", at: stoppedAt }]);
  });

  it("cleanup drops the snapshots once and keeps the source LV", async () => {
    s = phaseSetup({ state: { sizeBytes: VOLUME_BYTES } });
    await s.run("snapshot");
    expect(await twice(s, "cleanup")).toEqual({ next: "done" });
    expect(s.source.lvNames("vg0")).toEqual(["vm1"]);
    expect(s.source.ran("lvremove")).toBe(1);
    expect(s.stored().liveObjects).toEqual([]);
    // Tagged as moved away (once, however often cleanup runs), and never with the tag clean-up removes by.
    expect(s.source.lv("vg0", "vm1")?.tags).toEqual([`blockferry_migrated_${s.jobId}`]);
  });

  it("cleanup that cannot tag the source LV still finishes, with a warning saying how to tag it", async () => {
    s = phaseSetup({ state: { sizeBytes: VOLUME_BYTES } });
    s.source.failNext((argv) => argv[0] === "lvchange", new Error("lvchange: VG vg0 lock timeout"));
    expect(await s.run("cleanup")).toEqual({ next: "done" });
    expect(s.source.lv("vg0", "vm1")?.tags).toEqual([]);
    expect(s.stored().logs.at(-1)).toMatch(
      new RegExp(`could not be tagged .*lock timeout.*lvchange --addtag blockferry_migrated_${s.jobId} vg0/vm1`),
    );
  });

  // A crash between the start command and storing vmStartedAt re-runs start_vm. The start decision is stored
  // first, and the re-run asks both hosts (the status command) before it starts anything.
  const starts = (host: PhaseSetup["target"]) => host.commands.filter((c) => c.startsWith("fake-vm start")).length;

  it("start_vm, after the VM started but before that was stored, does not start it again", async () => {
    s = phaseSetup({
      job: { vm: VM_COMMANDS_WITH_STATUS },
      state: { sizeBytes: VOLUME_BYTES, vmStoppedAt: Date.now() },
    });
    s.source.vmRunning = false;
    s.target.failNext((argv) => argv.join(" ").startsWith("fake-vm start"), new Error("connection lost"), {
      afterRunning: true,
    });
    await expect(s.run("start_vm")).rejects.toThrow(/connection lost/);
    expect(s.stored().state.startDecision?.host).toBe("target"); // stored before the command
    expect(s.target.vmRunning).toBe(true);
    expect(await s.run("start_vm")).toEqual({ next: "cleanup" });
    expect(starts(s.target)).toBe(1);
    expect(s.stored().state.vmStartedAt).toBeGreaterThan(0);
  });

  it("start_vm, when the crash came before the start command, starts the VM once on the re-run", async () => {
    s = phaseSetup({
      job: { vm: VM_COMMANDS_WITH_STATUS },
      state: { sizeBytes: VOLUME_BYTES, vmStoppedAt: Date.now() },
    });
    s.source.vmRunning = false;
    s.target.failNext((argv) => argv.join(" ").startsWith("fake-vm start"), new Error("connection lost"));
    await expect(s.run("start_vm")).rejects.toThrow(/connection lost/);
    expect(s.target.vmRunning).toBe(false);
    await s.run("start_vm");
    expect(s.target.vmRunning).toBe(true);
    expect(starts(s.target)).toBe(2); // the first never ran
  });

  it("start_vm refuses to start the VM on the target while it runs on the source", async () => {
    s = phaseSetup({
      job: { vm: VM_COMMANDS_WITH_STATUS },
      state: { sizeBytes: VOLUME_BYTES, vmStoppedAt: Date.now() },
    });
    // The fake source's VM still runs (someone started it again during the outage).
    await expect(s.run("start_vm")).rejects.toThrow(
      /refusing to start the VM on the target: it is running on the source/,
    );
    expect(starts(s.target)).toBe(0);
    expect(s.target.vmRunning).toBe(false);
  });

  it("start_vm without a status command issues the start again (its start command must be idempotent)", async () => {
    s = phaseSetup({ job: { vm: VM_COMMANDS }, state: { sizeBytes: VOLUME_BYTES, vmStoppedAt: Date.now() } });
    s.target.failNext((argv) => argv[0] === "fake-vm", new Error("connection lost"), { afterRunning: true });
    await expect(s.run("start_vm")).rejects.toThrow(/connection lost/);
    await s.run("start_vm");
    expect(starts(s.target)).toBe(2);
    expect(s.target.vmRunning).toBe(true);
  });
});

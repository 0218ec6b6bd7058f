// A snapshot that overflows is never trusted: the job drops it, takes a new one, copies everything again,
// counts the fallback and says so in its log, whichever way the overflow shows (a failed read, the watcher, or
// while waiting for cutover).
import { afterEach, describe, expect, it } from "vitest";
import { MIB, type PhaseSetup, phaseSetup, VOLUME_BYTES } from "../../support/phase-setup.ts";
import { untilAborted } from "../../support/recording-mover.ts";
import { waitFor } from "../../support/wait-for.ts";

/** A job with a small (4 MiB, 4 KiB chunks) snapshot of generation 1 taken and its target LV created. */
async function readyToCopy(state: Record<string, unknown> = {}, cutover: "manual" | "auto" = "auto") {
  const s = phaseSetup({
    job: { cutover, options: { snapshotSizeBytes: 4 * MIB, snapshotChunkKiB: 4, catchUpPasses: 1 } },
    state: { sizeBytes: VOLUME_BYTES, ...state },
  });
  await s.run("snapshot");
  await s.run("prepare_target");
  return s;
}

/** The VM writes more than the 4 MiB snapshot can hold. */
const overflow = (s: PhaseSetup) => s.source.write("vg0", "vm1", 0, 8 * MIB);

/** After the fallback: the new generation is taken and the whole volume is copied from it. */
async function expectFullCopyAgain(s: PhaseSetup) {
  const old = `bf-${s.jobId}-s1`;
  const fresh = `bf-${s.jobId}-s2`;
  const { state, logs } = s.stored();
  expect(state).toMatchObject({ snapshotGen: 2, fullCopyDone: false, catchUpDone: 0, fullCopyFallbacks: 1 });
  expect(state.snapshotLv).toBeUndefined();
  expect(logs).toContainEqual(
    expect.stringMatching(
      new RegExp(`snapshot vg0/${old} is invalid .*; falling back to a new snapshot and a full copy`),
    ),
  );

  expect(await s.run("snapshot")).toEqual({ next: "prepare_target" });
  expect(await s.run("prepare_target")).toEqual({ next: "full_copy" });
  expect(await s.run("full_copy")).toEqual({ next: "catch_up" });

  expect(s.source.lvNames("vg0")).toEqual(["vm1", fresh]);
  expect(s.source.lv("vg0", fresh)?.snapshot?.valid).toBe(true);
  expect(s.target.ran("lvcreate")).toBe(1); // the target LV is ours already: reused, not made again
  expect(s.mover.calls.at(-1)).toMatchObject({ kind: "full", pass: "full-g2", from: `/dev/vg0/${fresh}` });
  expect(s.stored().state).toMatchObject({ fullCopyDone: true, fullCopyFallbacks: 1, snapshotLv: fresh });
  expect(s.stored().liveObjects).toEqual([`target_lv:vg0/vm1`, `snapshot:vg0/${fresh}`]);
}

describe("falling back to a full copy after a snapshot overflowed", () => {
  let s: PhaseSetup;
  afterEach(() => s.cleanup());

  it("in full_copy, when a read of the overflowed snapshot fails before the watcher looked", async () => {
    s = await readyToCopy();
    s.mover.during = (call) => {
      if (call.pass !== "full-g1") return;
      overflow(s);
      throw new Error("dd: error reading '/dev/vg0/bf-1-s1': Input/output error");
    };
    expect(await s.run("full_copy")).toEqual({ next: "snapshot" });
    await expectFullCopyAgain(s);
  });

  it("in full_copy, when the watcher sees the snapshot turn invalid and stops the copy", async () => {
    s = await readyToCopy();
    s.mover.during = async (call, signal) => {
      if (call.pass !== "full-g1") return;
      overflow(s);
      await untilAborted(signal);
    };
    expect(await s.run("full_copy")).toEqual({ next: "snapshot" });
    await expectFullCopyAgain(s);
  });

  it("in catch_up, when generation 2 overflows while its pass copies", async () => {
    s = await readyToCopy({ fullCopyDone: true });
    s.mover.during = async (call, signal) => {
      if (call.pass !== "catchup-1") return;
      overflow(s);
      await untilAborted(signal);
    };
    expect(await s.run("catch_up")).toEqual({ next: "snapshot" });
    // Generation 2 overflowed: the fallback goes on to generation 3.
    expect(s.stored().state).toMatchObject({ snapshotGen: 3, fullCopyDone: false, fullCopyFallbacks: 1 });
    expect(await s.run("snapshot")).toEqual({ next: "prepare_target" });
    expect(s.source.lvNames("vg0")).toEqual(["vm1", `bf-${s.jobId}-s3`]);
  });

  it("in wait_cutover, when the snapshot overflows while the operator has not confirmed", async () => {
    s = await readyToCopy({ fullCopyDone: true, catchUpDone: 1 }, "manual");
    const waiting = s.run("wait_cutover");
    // Waits on state: the job shows as waiting for the operator before the VM writes.
    await waitFor("the job to wait for cutover", () => s.stored().job.state === "waiting_cutover");
    overflow(s);
    expect(await waiting).toEqual({ next: "snapshot" });
    expect(s.stored().job.state).toBe("running");
    await expectFullCopyAgain(s);
  });

  // The fallback forgets the overflowed pass's rotation and change list: resuming them would take no new
  // generation and send the old pass's change list again, so nothing written since the new snapshot is caught up.
  it("after a fallback in catch_up, the next catch_up rotates again and sends what the new generation recorded", async () => {
    s = await readyToCopy({ fullCopyDone: true });
    s.source.write("vg0", "vm1", 0, 4096); // generation 1 records chunk 0
    let overflowed = false;
    s.mover.during = async (call, signal) => {
      if (call.pass !== "catchup-1" || overflowed) return;
      overflowed = true;
      overflow(s);
      await untilAborted(signal);
    };
    expect(await s.run("catch_up")).toEqual({ next: "snapshot" });
    await s.run("snapshot"); // generation 3
    await s.run("prepare_target");
    await s.run("full_copy");
    s.source.write("vg0", "vm1", 40 * MIB, 4096); // recorded by generation 3 only: chunk 10240

    expect(await s.run("catch_up")).toEqual({ next: "wait_cutover" });
    // A pass name of its own: the journal holds the overflowed catchup-1's plan, and refuses another under that name.
    expect(s.mover.calls.at(-1)).toMatchObject({
      pass: "catchup-1-f1",
      from: `/dev/vg0/bf-${s.jobId}-s4`,
      runs: [[10240, 1]],
    });
  });

  it("counts every fallback", async () => {
    s = await readyToCopy();
    s.mover.during = async (call, signal) => {
      if (call.kind !== "full" || call.pass === "full-g3") return;
      overflow(s);
      await untilAborted(signal);
    };
    for (const next of ["snapshot", "snapshot", "catch_up"]) {
      expect(await s.run("full_copy")).toEqual({ next });
      if (next === "snapshot") await s.run("snapshot");
    }
    expect(s.stored().state).toMatchObject({ fullCopyFallbacks: 2, snapshotGen: 3, fullCopyDone: true });
    expect(s.mover.calls.map((c) => c.pass)).toEqual(["full-g1", "full-g2", "full-g3"]);
  });
});

// The snapshot phase against a fake LVM host, its progress stored in a real database.
import { afterEach, describe, expect, it } from "vitest";
import { MIB, type PhaseSetup, phaseSetup, VOLUME_BYTES } from "../../support/phase-setup.ts";

describe("snapshot phase", () => {
  let s: PhaseSetup;
  afterEach(() => s.cleanup());

  it("takes a tagged snapshot of the source LV, records it as the job's object and stores it in the phase state", async () => {
    s = phaseSetup({ state: { sizeBytes: VOLUME_BYTES } });
    const snap = `bf-${s.jobId}-s1`;
    expect(await s.run("snapshot")).toEqual({ next: "prepare_target" });

    const lv = s.source.lv("vg0", snap);
    expect(lv?.snapshot).toMatchObject({ origin: "vm1", chunkBytes: 64 * 1024, valid: true });
    expect(lv?.tags).toEqual(["blockferry", `bf-job-${s.jobId}`]);
    // A quarter of the volume, but never below the minimum a snapshot needs.
    expect(lv?.sizeBytes).toBeGreaterThanOrEqual(VOLUME_BYTES / 4);
    const { state, liveObjects, logs } = s.stored();
    expect(state).toMatchObject({ snapshotGen: 1, snapshotLv: snap, sourceThin: false });
    expect(liveObjects).toEqual([`snapshot:vg0/${snap}`]);
    expect(logs).toContain(`snapshot vg0/${snap} taken`);
  });

  it("honours the snapshot size and chunk size options", async () => {
    s = phaseSetup({
      state: { sizeBytes: VOLUME_BYTES },
      job: { options: { snapshotSizeBytes: 8 * MIB, snapshotChunkKiB: 4 } },
    });
    await s.run("snapshot");
    expect(s.source.lv("vg0", `bf-${s.jobId}-s1`)).toMatchObject({
      sizeBytes: 8 * MIB,
      snapshot: { chunkBytes: 4096 },
    });
  });

  it("run again after a crash (before or after its state was saved), it adopts the snapshot instead of taking another", async () => {
    s = phaseSetup({ state: { sizeBytes: VOLUME_BYTES } });
    // Crash 1: the lvcreate ran, then the connection died before the phase read the snapshot back.
    let lvsCalls = 0;
    s.source.failNext((argv) => argv[0] === "lvs" && ++lvsCalls === 3);
    await expect(s.run("snapshot")).rejects.toThrow(/connection lost/);
    expect(s.stored().state.snapshotLv).toBeUndefined();
    await s.run("snapshot");
    // Crash 2: everything was saved; the runner died before it stored the next phase.
    await s.run("snapshot");

    expect(s.source.ran("lvcreate")).toBe(1);
    expect(s.source.lvNames("vg0")).toEqual(["vm1", `bf-${s.jobId}-s1`]);
    expect(s.stored().liveObjects).toEqual([`snapshot:vg0/bf-${s.jobId}-s1`]);
    expect(s.stored().state).toMatchObject({ snapshotGen: 1, snapshotLv: `bf-${s.jobId}-s1` });
  });

  it("goes on to catch_up, not prepare_target, when the full copy is already done (a rotation's snapshot)", async () => {
    s = phaseSetup({ state: { sizeBytes: VOLUME_BYTES, fullCopyDone: true, snapshotGen: 2 } });
    expect(await s.run("snapshot")).toEqual({ next: "catch_up" });
    expect(s.source.lv("vg0", `bf-${s.jobId}-s2`)?.snapshot?.valid).toBe(true);
  });
});

// While the VM writes during a copy, the snapshot is watched: grown before it can overflow when its VG has room,
// and its fill level stored as events (only when it moved by a whole percent).
import { afterEach, describe, expect, it } from "vitest";
import { MIB, type PhaseSetup, phaseSetup, VOLUME_BYTES } from "../../support/phase-setup.ts";
import { waitFor } from "../../support/wait-for.ts";

/** Generation 1 is a 4 MiB snapshot of 4 KiB chunks; the target is made. */
async function readyToCopy(): Promise<PhaseSetup> {
  const s = phaseSetup({
    job: { options: { snapshotSizeBytes: 4 * MIB, snapshotChunkKiB: 4 } },
    state: { sizeBytes: VOLUME_BYTES },
  });
  await s.run("snapshot");
  await s.run("prepare_target");
  return s;
}

const snapshotLv = (s: PhaseSetup) => s.source.lv("vg0", `bf-${s.jobId}-s1`);

describe("snapshot watch during a copy", () => {
  let s: PhaseSetup;
  afterEach(() => s.cleanup());

  it("grows a snapshot past 70% full by half its size (whole extents) when the VG has room", async () => {
    s = await readyToCopy();
    s.mover.during = async () => {
      s.source.write("vg0", "vm1", 0, 3 * MIB); // about 75% of the snapshot
      await waitFor("the snapshot to grow", () => snapshotLv(s)?.sizeBytes === 8 * MIB);
    };
    expect(await s.run("full_copy")).toEqual({ next: "catch_up" });

    expect(snapshotLv(s)?.snapshot?.valid).toBe(true);
    const { logs, events, state } = s.stored();
    const grew = new RegExp(
      `^snapshot bf-${s.jobId}-s1 was 7\\d\\.\\d% full: grew it by 4\\.00 MiB \\(${4 * MIB} bytes\\)$`,
    );
    expect(logs).toContainEqual(expect.stringMatching(grew));
    const fills = events.filter((e) => e.type === "job.snapshot").map((e) => e.data);
    expect(fills[0]).toMatchObject({ snapshot: `bf-${s.jobId}-s1`, phase: "full_copy" });
    expect(state).toMatchObject({ fullCopyDone: true });
    expect(state.fullCopyFallbacks).toBeUndefined();
  });

  it("says so when the VG has no room to grow it, and lets the copy go on", async () => {
    s = await readyToCopy();
    s.source.addLv("vg0", "others", 1024 * MIB - VOLUME_BYTES - 4 * MIB); // the VG is now full
    s.mover.during = async () => {
      s.source.write("vg0", "vm1", 0, 3 * MIB);
      await waitFor("the warning", () => s.stored().logs.some((l) => l.includes("has no room to grow it")));
    };
    expect(await s.run("full_copy")).toEqual({ next: "catch_up" });
    expect(snapshotLv(s)?.sizeBytes).toBe(4 * MIB);
    expect(s.source.ran("lvextend")).toBe(0);
  });
});

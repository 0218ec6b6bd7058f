// The final delta, with the VM stopped: exactly the chunks the snapshot recorded, read from the quiet source LV;
// or, when the snapshot overflowed, the whole volume during the outage.
import { afterEach, describe, expect, it } from "vitest";
import { MIB, type PhaseSetup, phaseSetup, VM_COMMANDS, VOLUME_BYTES } from "../../support/phase-setup.ts";

async function vmStopped(): Promise<PhaseSetup> {
  const s = phaseSetup({
    job: { vm: VM_COMMANDS, options: { snapshotSizeBytes: 4 * MIB, snapshotChunkKiB: 4 } },
    state: { sizeBytes: VOLUME_BYTES, fullCopyDone: true, targetCreated: true },
  });
  await s.run("snapshot");
  s.source.write("vg0", "vm1", 8192, 8192); // chunks 2-3
  s.source.write("vg0", "vm1", 32 * MIB, 1); // chunk 8192
  await s.run("stop_vm");
  return s;
}

describe("final_delta phase", () => {
  let s: PhaseSetup;
  afterEach(() => s.cleanup());

  it("copies the chunks the snapshot recorded, from the stopped VM's own LV, and stores them for verify", async () => {
    s = await vmStopped();
    expect(await s.run("final_delta")).toEqual({ next: "verify" });
    expect(s.mover.calls).toEqual([
      expect.objectContaining({
        kind: "extents",
        pass: "final",
        from: "/dev/vg0/vm1",
        to: "/dev/vg0/vm1",
        chunkBytes: 4096,
        runs: [
          [2, 2],
          [8192, 1],
        ],
      }),
    ]);
    expect(s.stored().state).toMatchObject({
      finalChunkBytes: 4096,
      finalExtents: [
        [2, 2],
        [8192, 1],
      ],
    });
    expect(s.stored().logs).toContain(`final delta: 12.0 KiB (${3 * 4096} bytes) in 2 runs`);
  });

  it("copies the whole volume during the outage when the snapshot overflowed, and says so", async () => {
    s = await vmStopped();
    s.source.write("vg0", "vm1", 0, 8 * MIB);
    expect(await s.run("final_delta")).toEqual({ next: "verify" });
    expect(s.mover.calls).toEqual([
      expect.objectContaining({ kind: "full", pass: "final-full", from: "/dev/vg0/vm1", bytes: VOLUME_BYTES }),
    ]);
    expect(s.stored().state).toMatchObject({ finalFull: true });
    expect(s.stored().logs).toContainEqual(
      expect.stringMatching(/is invalid .*; copying the whole volume during the outage$/),
    );
  });
});

// Catch-up rotation against a fake LVM host: each pass takes snapshot g+1, sends what g recorded (read from g+1)
// and drops g; every step is stored, so a runner restarted after a crash resumes the pass it was in.
import { afterEach, describe, expect, it } from "vitest";
import { type PhaseSetup, phaseSetup, VOLUME_BYTES } from "../../support/phase-setup.ts";

const KIB4 = 4096;

/** A job whose full copy is done, with snapshot generation 1 taken, and two catch-up passes to go. */
async function afterFullCopy(): Promise<PhaseSetup> {
  const s = phaseSetup({
    job: { options: { catchUpPasses: 2, snapshotChunkKiB: 4 } },
    state: { sizeBytes: VOLUME_BYTES, fullCopyDone: true, targetCreated: true },
  });
  await s.run("snapshot");
  return s;
}

const snap = (s: PhaseSetup, gen: number) => `bf-${s.jobId}-s${gen}`;

describe("catch_up phase", () => {
  let s: PhaseSetup;
  afterEach(() => s.cleanup());

  it("sends each pass what the previous generation recorded, from the next generation, and drops the old one", async () => {
    s = await afterFullCopy();
    s.source.write("vg0", "vm1", 0, 2 * KIB4); // chunks 0-1
    s.source.write("vg0", "vm1", 1 << 20, KIB4); // chunk 256
    s.mover.during = (call) => {
      // The VM keeps writing while pass 1 copies: generation 2 records it for pass 2.
      if (call.pass === "catchup-1") s.source.write("vg0", "vm1", 2 << 20, KIB4); // chunk 512
    };

    expect(await s.run("catch_up")).toEqual({ next: "wait_cutover" });

    expect(s.mover.calls).toEqual([
      expect.objectContaining({
        kind: "extents",
        pass: "catchup-1",
        from: `/dev/vg0/${snap(s, 2)}`,
        to: "/dev/vg0/vm1",
        chunkBytes: KIB4,
        runs: [
          [0, 2],
          [256, 1],
        ],
      }),
      expect.objectContaining({ pass: "catchup-2", from: `/dev/vg0/${snap(s, 3)}`, runs: [[512, 1]] }),
    ]);
    expect(s.source.lvNames("vg0")).toEqual(["vm1", snap(s, 3)]);
    const { state, liveObjects, logs } = s.stored();
    expect(state).toMatchObject({ catchUpDone: 2, snapshotGen: 3, snapshotLv: snap(s, 3) });
    expect(liveObjects).toEqual([`snapshot:vg0/${snap(s, 3)}`]);
    expect(logs).toEqual(
      expect.arrayContaining([
        `catch-up 1/2: ${3 * KIB4} bytes changed`,
        `dropped snapshot vg0/${snap(s, 1)}`,
        `catch-up 2/2: ${KIB4} bytes changed`,
        `dropped snapshot vg0/${snap(s, 2)}`,
      ]),
    );
  });

  it("after a crash in pass 2's copy, a re-run resumes pass 2 with its stored change list and never redoes pass 1", async () => {
    s = await afterFullCopy();
    s.source.write("vg0", "vm1", 0, KIB4);
    let crashed = false;
    s.mover.during = (call) => {
      if (call.pass === "catchup-1") s.source.write("vg0", "vm1", 4 * KIB4, KIB4); // chunk 4, for pass 2
      if (call.pass === "catchup-2" && !crashed) {
        crashed = true;
        // Written after pass 2's change list was stored: the next pass's (or the final delta's) business.
        s.source.write("vg0", "vm1", 8 * KIB4, KIB4);
        throw new Error("server process killed");
      }
    };
    await expect(s.run("catch_up")).rejects.toThrow(/killed/);
    expect(s.stored().state).toMatchObject({ catchUpDone: 1, snapshotGen: 3 });

    await s.run("catch_up");

    expect(s.mover.calls.map((c) => [c.pass, c.runs])).toEqual([
      ["catchup-1", [[0, 1]]],
      ["catchup-2", [[4, 1]]],
      ["catchup-2", [[4, 1]]],
    ]);
    expect(s.source.ran("lvcreate")).toBe(3); // generations 1, 2 and 3: none taken twice
    expect(s.source.lvNames("vg0")).toEqual(["vm1", snap(s, 3)]);
    expect(s.stored().state).toMatchObject({ catchUpDone: 2, snapshotLv: snap(s, 3) });
  });

  it("run again once finished, it does nothing", async () => {
    s = await afterFullCopy();
    await s.run("catch_up");
    const commands = s.source.commands.length;
    expect(await s.run("catch_up")).toEqual({ next: "wait_cutover" });
    expect(s.mover.calls).toHaveLength(2);
    expect(s.source.commands.length).toBe(commands);
  });

  // A crash after generation g+1 was taken but before g's change list was stored: the re-run finds the state
  // already naming g+1; the rotation keeps g until g's changes are stored, so the re-run adopts g+1 and reads g.
  it("after a crash between taking the next generation and storing the change list, a re-run still reads the old one", async () => {
    s = await afterFullCopy();
    s.source.write("vg0", "vm1", 0, KIB4);
    // Pass 1 takes generation 2, then the connection dies on its first look at generation 1's COW store.
    s.source.failNext((argv) => argv[0] === "dmsetup" && argv[2] === `vg0-bf--${s.jobId}--s1`);
    await expect(s.run("catch_up")).rejects.toThrow(/connection lost/);
    expect(s.source.lvNames("vg0")).toEqual(["vm1", snap(s, 1), snap(s, 2)]);

    await s.run("catch_up");
    expect(s.mover.calls[0]).toMatchObject({ pass: "catchup-1", runs: [[0, 1]] });
    expect(s.source.ran("lvcreate")).toBe(3); // generations 1, 2 and 3: generation 2 adopted, not taken again
    expect(s.source.lvNames("vg0")).toEqual(["vm1", snap(s, 3)]);
  });
});

// The fake host is only worth its tests if it answers as LVM and the kernel do: checked here through the real
// lvm-ops functions, packages/lvm parsers and the COW store reader the phases use.
import { shJoin } from "@blockferry/lvm";
import { describe, expect, it } from "vitest";
import {
  classicSnapshotChanges,
  createClassicSnapshot,
  findLv,
  findVg,
  removeLvIfPresent,
  snapshotStatus,
} from "../../src/jobs/lvm-ops.ts";
import { FakeLvmHost } from "./fake-host.ts";
import { shellWords } from "./shell-words.ts";

const MIB = 1 << 20;

async function hostWithSnapshot() {
  const host = new FakeLvmHost(1, "hv").addVg("vg-a", 256 * MIB);
  host.addLv("vg-a", "vm-1", 64 * MIB);
  await createClassicSnapshot(host, {
    jobId: 7,
    vg: "vg-a",
    origin: "vm-1",
    name: "bf-7-s1",
    sizeBytes: 4 * MIB,
    chunkBytes: 4096,
  });
  return host;
}

describe("fake LVM host", () => {
  it("splits commands as sh does, quoting included, and refuses what it does not model", () => {
    const argv = ["lvs", "it's", "a b", "", "--x=$(reboot)", "\\"];
    expect(shellWords(`LVM_SUPPRESS_FD_WARNINGS=1 ${shJoin(argv)}`)).toEqual({
      env: { LVM_SUPPRESS_FD_WARNINGS: "1" },
      argv,
    });
    expect(() => shellWords("lvs | cat")).toThrow(/single commands only/);
  });

  it("reports LVs, VGs and snapshots in the shapes the parsers read", async () => {
    const host = await hostWithSnapshot();
    expect(await findLv(host, "vg-a", "bf-7-s1")).toMatchObject({
      kind: "snapshot",
      origin: "vm-1",
      sizeBytes: 4 * MIB,
      chunkSizeBytes: 4096,
      tags: ["blockferry", "bf-job-7"],
      invalidSnapshot: false,
    });
    expect((await findLv(host, "vg-a", "vm-1"))?.kind).toBe("origin");
    expect(await findVg(host, "vg-a")).toMatchObject({ sizeBytes: 256 * MIB, freeBytes: 188 * MIB });
    expect(await findVg(host, "nope")).toBeNull();
    await expect(host.run("reboot")).rejects.toThrow(/not modelled/);
  });

  it("records writes in the COW store as the kernel lays it out, and the kernel's count agrees", async () => {
    const host = await hostWithSnapshot();
    // More than one metadata area (256 records of 4 KiB chunks each).
    host.write("vg-a", "vm-1", 0, 300 * 4096);
    host.write("vg-a", "vm-1", 10 * MIB, 1);
    const changes = await classicSnapshotChanges(host, {
      vg: "vg-a",
      snap: "bf-7-s1",
      originBytes: 64 * MIB,
      originQuiet: true,
    });
    expect(changes.chunkBytes).toBe(4096);
    expect(changes.extents.toJSON()).toEqual([
      [0, 300],
      [2560, 1],
    ]);
    expect(await snapshotStatus(host, "vg-a", "bf-7-s1")).toMatchObject({ state: "valid" });
  });

  it("turns a snapshot invalid for good when it overflows", async () => {
    const host = await hostWithSnapshot();
    host.write("vg-a", "vm-1", 0, 5 * MIB);
    expect(await snapshotStatus(host, "vg-a", "bf-7-s1")).toEqual({ state: "invalid" });
    expect(await findLv(host, "vg-a", "bf-7-s1")).toMatchObject({ invalidSnapshot: true, snapPercent: 100 });
    await expect(
      classicSnapshotChanges(host, { vg: "vg-a", snap: "bf-7-s1", originBytes: 64 * MIB, originQuiet: true }),
    ).rejects.toThrow(/invalid/);
  });

  it("removes only what carries the blockferry tag, and an origin only after its snapshots", async () => {
    const host = await hostWithSnapshot();
    host.addLv("vg-a", "mine-not", MIB);
    await expect(removeLvIfPresent(host, "vg-a", "mine-not")).rejects.toThrow(/not created by Blockferry/);
    await expect(host.run(shJoin(["lvremove", "--yes", "vg-a/vm-1"]))).rejects.toThrow(/has snapshots/);
    expect(await removeLvIfPresent(host, "vg-a", "bf-7-s1")).toBe(true);
    expect(await removeLvIfPresent(host, "vg-a", "bf-7-s1")).toBe(false);
  });
});

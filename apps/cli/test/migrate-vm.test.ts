// `migrate --vm DOMAIN`: the domain's LV disks from the source host's inventory become the create body's disk set;
// a VM the inventory says cannot move is refused with its reason.
import type { Inventory, InventoryDomain } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { vmDiskSet } from "../src/lib/vm-disks.ts";

const inventory = (domains: InventoryDomain[] | null): Inventory => ({
  collectedAt: "2026-12-03T00:00:00.000Z",
  tools: { lvm: "2.03.16", dmsetup: null, thinDelta: null, sha256sum: null, b2sum: null, virsh: "9.0.0" },
  vgs: [],
  lvs: [],
  snapshots: [],
  thinPools: [],
  domains,
  warnings: [],
});
const web1: InventoryDomain = {
  name: "web1",
  state: "running",
  error: null,
  refusal: null,
  disks: [
    {
      type: "block",
      device: "disk",
      target: "vda",
      source: "/dev/vg0/web1-root",
      volume: { vg: "vg0", lv: "web1-root", sizeBytes: 1 << 30, kind: "classic" },
      refused: null,
    },
    {
      type: "block",
      device: "disk",
      target: "vdb",
      source: "/dev/vg0/web1-data",
      volume: { vg: "vg0", lv: "web1-data", sizeBytes: 1 << 29, kind: "thin" },
      refused: null,
    },
    {
      type: "file",
      device: "cdrom",
      target: "sda",
      source: "/iso/x.iso",
      volume: null,
      refused: {
        reason: "a cdrom image (/iso/x.iso), not moved: the target needs it at the same path",
        blocksVm: false,
      },
    },
  ],
};

describe("migrate --vm", () => {
  it("sends every LV disk of the domain to the target VG (and thin pool) under its own name", () => {
    const set = vmDiskSet(inventory([web1]), "web1", { vg: "vg1" }, "pool");
    expect(set.disks).toEqual([
      { source: { vg: "vg0", lv: "web1-root" }, target: { vg: "vg1", thinPool: "pool" } },
      { source: { vg: "vg0", lv: "web1-data" }, target: { vg: "vg1", thinPool: "pool" } },
    ]);
    expect(set.notMoved).toEqual(["sda: a cdrom image (/iso/x.iso), not moved: the target needs it at the same path"]);
    expect(vmDiskSet(inventory([web1]), "web1", { vg: "vg1" }).disks[0]?.target).toEqual({ vg: "vg1" });
  });

  it("refuses a VM that cannot move, one the host does not have, a host without libvirt, and one target LV", () => {
    const files = { ...web1, name: "files", refusal: "disk vda: a file (/a.img), not a logical volume" };
    expect(() => vmDiskSet(inventory([web1, files]), "files", { vg: "vg1" })).toThrow(
      "--vm files cannot be migrated: disk vda: a file (/a.img), not a logical volume",
    );
    expect(() => vmDiskSet(inventory([web1]), "db1", { vg: "vg1" })).toThrow(
      '--vm: no libvirt domain "db1" on the source host (it has web1)',
    );
    expect(() => vmDiskSet(inventory(null), "web1", { vg: "vg1" })).toThrow(/virsh\) is not installed/);
    expect(() => vmDiskSet(inventory([web1]), "web1", { vg: "vg1", lv: "x" })).toThrow(/names one LV/);
  });
});

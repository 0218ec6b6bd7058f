// What the inventory says of each libvirt disk: the LV to migrate, or why not and whether the VM can move without
// it. readInventory runs this over stand-in virsh output in inventory.test.ts; here the cases one by one.
import type { InventoryLv } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { classifyDomainDisk, domainRefusal } from "../../src/hosts/inventory/domain-disks.ts";

const lv = (name: string, o: Partial<InventoryLv> = {}): InventoryLv => ({
  vg: "vg0",
  name,
  uuid: `u-${name}`,
  path: `/dev/vg0/${name}`,
  dmName: `vg0-${name.replaceAll("-", "--")}`,
  kind: "linear",
  segtype: "linear",
  attr: "-wi-ao----",
  sizeBytes: 1 << 30,
  active: true,
  open: true,
  tags: [],
  origin: null,
  pool: null,
  thinId: null,
  chunkSizeBytes: null,
  migratedAway: null,
  ...o,
});
const lvs = [
  lv("root"),
  lv("data-1", { kind: "thin", segtype: "thin", pool: "pool" }),
  lv("root-snap", { kind: "snapshot", segtype: "snapshot", origin: "root" }),
  lv("thin-snap", { kind: "thin", segtype: "thin", origin: "data-1" }),
  lv("pool", { kind: "thin-pool", segtype: "thin-pool" }),
  lv("mirror", { kind: "other", segtype: "raid1" }),
];
const block = (source: string | null, target = "vda") => ({ type: "block", device: "disk", target, source });

describe("classifyDomainDisk", () => {
  it("takes a linear or thin LV by its /dev/VG/LV path or its /dev/mapper name", () => {
    expect(classifyDomainDisk(block("/dev/vg0/root"), lvs)).toMatchObject({
      volume: { vg: "vg0", lv: "root", sizeBytes: 1 << 30, kind: "classic" },
      refused: null,
    });
    expect(classifyDomainDisk(block("/dev/mapper/vg0-data--1"), lvs)).toMatchObject({
      volume: { vg: "vg0", lv: "data-1", kind: "thin" },
      refused: null,
    });
  });

  it("refuses what is not a plain LV, and says the VM cannot move without it", () => {
    const reasons = [
      block("/dev/sdb"),
      block("/dev/vg0/root-snap"),
      block("/dev/vg0/thin-snap"),
      block("/dev/vg0/pool"),
      block("/dev/vg0/mirror"),
      block(null),
      { type: "file", device: "disk", target: "vda", source: "/images/a.qcow2" },
      { type: "volume", device: "disk", target: "vda", source: "default/a.img" },
    ].map((d) => {
      const c = classifyDomainDisk(d, lvs);
      expect(c.volume).toBeNull();
      expect(c.refused?.blocksVm).toBe(true);
      return c.refused?.reason;
    });
    expect(reasons).toEqual([
      "/dev/sdb is not a logical volume of this host's LVM",
      "vg0/root-snap is a snapshot: migrate its origin instead",
      "vg0/thin-snap is a snapshot: migrate its origin instead",
      "vg0/pool is a thin pool, not a volume",
      "vg0/mirror is a raid1 LV: only linear and thin LVs can be migrated",
      "a disk without a source: nothing to read it from",
      "a file (/images/a.qcow2), not a logical volume: only LVs can be migrated",
      "a volume disk (default/a.img), not a logical volume",
    ]);
  });

  it("refuses a network disk: only LVs move, and the VM would start without it", () => {
    expect(
      classifyDomainDisk({ type: "network", device: "disk", target: "vdb", source: "rbd/data" }, lvs).refused,
    ).toEqual({ reason: "a network disk (rbd/data), not a logical volume: only LVs can be migrated", blocksVm: true });
  });

  it("leaves removable media behind without holding the VM back", () => {
    for (const d of [
      { type: "file", device: "cdrom", target: "sda", source: "/iso/x.iso" },
      { type: "block", device: "cdrom", target: "sda", source: null },
      { type: "file", device: "floppy", target: "fda", source: null },
    ])
      expect(classifyDomainDisk(d, lvs).refused?.blocksVm).toBe(false);
    expect(classifyDomainDisk({ type: "block", device: "cdrom", target: "sda", source: null }, lvs).refused).toEqual({
      reason: "an empty cdrom drive: nothing to move",
      blocksVm: false,
    });
  });
});

describe("domainRefusal", () => {
  const root = classifyDomainDisk(block("/dev/vg0/root"), lvs);
  const iso = classifyDomainDisk({ type: "file", device: "cdrom", target: "sda", source: "/iso/x.iso" }, lvs);
  it("lets a VM move with its LV disks, removable media left behind", () => {
    expect(domainRefusal([root, iso], null)).toBeNull();
  });
  it("names each disk the VM cannot move without, a VM without LV disks, and one with more than 16", () => {
    const file = classifyDomainDisk({ type: "file", device: "disk", target: "vdb", source: "/a.img" }, lvs);
    expect(domainRefusal([root, file], null)).toBe(
      "disk vdb: a file (/a.img), not a logical volume: only LVs can be migrated (the VM cannot start without it)",
    );
    expect(domainRefusal([iso], null)).toBe("it has no disk on a logical volume");
    expect(
      domainRefusal(
        Array.from({ length: 17 }, () => root),
        null,
      ),
    ).toBe("it has 17 LV disks; one migration moves at most 16");
    expect(domainRefusal([], "virsh failed")).toBe("its disks could not be listed (virsh failed)");
  });
});

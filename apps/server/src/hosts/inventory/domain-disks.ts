// Which of a libvirt VM's disks Blockferry can migrate (an LV this host's LVM reports, linear or thin), and for the
// others why not, and whether the VM can still move without them. Pure: the inventory's domains are built with it.
import { type InventoryDomainDisk, type InventoryLv, MAX_MIGRATION_DISKS } from "@blockferry/contracts";
import { type DomainDisk, isRemovableDrive } from "@blockferry/lvm";

/** The LV a disk's source names: `/dev/VG/LV` or `/dev/mapper/<dm name>`. */
const lvAt = (source: string, lvs: readonly InventoryLv[]) =>
  lvs.find((lv) => lv.path === source || `/dev/mapper/${lv.dmName}` === source);

export function classifyDomainDisk(disk: DomainDisk, lvs: readonly InventoryLv[]): InventoryDomainDisk {
  const refuse = (reason: string, blocksVm: boolean): InventoryDomainDisk => ({
    ...disk,
    volume: null,
    refused: { reason, blocksVm },
  });
  const { source } = disk;
  if (isRemovableDrive(disk.device))
    return source
      ? refuse(`a ${disk.device} image (${source}), not moved: the target needs it at the same path`, false)
      : refuse(`an empty ${disk.device} drive: nothing to move`, false);
  if (disk.type === "network")
    return refuse(
      `a network disk${source ? ` (${source})` : ""}, not a logical volume: only LVs can be migrated`,
      true,
    );
  if (!source) return refuse("a disk without a source: nothing to read it from", true);
  if (disk.type === "file") return refuse(`a file (${source}), not a logical volume: only LVs can be migrated`, true);
  if (disk.type !== "block") return refuse(`a ${disk.type} disk (${source}), not a logical volume`, true);
  const lv = lvAt(source, lvs);
  if (!lv) return refuse(`${source} is not a logical volume of this host's LVM`, true);
  const name = `${lv.vg}/${lv.name}`;
  if (lv.kind === "snapshot" || lv.origin !== null)
    return refuse(`${name} is a snapshot: migrate its origin instead`, true);
  if (lv.kind === "thin-pool") return refuse(`${name} is a thin pool, not a volume`, true);
  if (lv.kind === "other")
    return refuse(`${name} is a ${lv.segtype} LV: only linear and thin LVs can be migrated`, true);
  return {
    ...disk,
    volume: { vg: lv.vg, lv: lv.name, sizeBytes: lv.sizeBytes, kind: lv.kind === "thin" ? "thin" : "classic" },
    refused: null,
  };
}

/** Why the VM cannot be migrated as one set of disks, or null when it can. */
export function domainRefusal(disks: readonly InventoryDomainDisk[], error: string | null): string | null {
  if (error) return `its disks could not be listed (${error})`;
  const blocking = disks.filter((d) => d.refused?.blocksVm);
  if (blocking.length)
    return `${blocking.map((d) => `disk ${d.target}: ${d.refused?.reason}`).join("; ")} (the VM cannot start without it)`;
  const movable = disks.filter((d) => d.volume).length;
  if (movable === 0) return "it has no disk on a logical volume";
  if (movable > MAX_MIGRATION_DISKS)
    return `it has ${movable} LV disks; one migration moves at most ${MAX_MIGRATION_DISKS}`;
  return null;
}

// `migrate --vm DOMAIN`: the domain's disks from the source host's inventory, as the create body's disk set.
import type { Inventory, MigrationDiskSpec } from "@blockferry/contracts";
import { CliApiError } from "./api-client.ts";

export interface VmDiskSet {
  disks: MigrationDiskSpec[];
  /** Disks that stay behind (removable media), each with the inventory's reason. */
  notMoved: string[];
}

/**
 * Every LV disk of `domain`, each to `to.vg` (and `thinPool`) under its own name. Refuses a domain the host does not
 * have, and one the inventory says cannot move (a local disk that is not an LV), with its reason.
 */
export function vmDiskSet(
  inv: Inventory,
  domain: string,
  to: { vg: string; lv?: string },
  thinPool?: string,
): VmDiskSet {
  if (inv.domains === null) throw new CliApiError("--vm: libvirt (virsh) is not installed on the source host");
  const d = inv.domains.find((x) => x.name === domain);
  if (!d) {
    const names = inv.domains.map((x) => x.name);
    throw new CliApiError(
      `--vm: no libvirt domain ${JSON.stringify(domain)} on the source host${names.length ? ` (it has ${names.join(", ")})` : ""}`,
    );
  }
  if (d.refusal) throw new CliApiError(`--vm ${domain} cannot be migrated: ${d.refusal}`);
  if (to.lv) throw new CliApiError("--to names one LV: with --vm, give HOST:VG only (each disk keeps its name)");
  const disks: MigrationDiskSpec[] = [];
  const notMoved: string[] = [];
  for (const disk of d.disks) {
    if (disk.volume)
      disks.push({
        source: { vg: disk.volume.vg, lv: disk.volume.lv },
        target: { vg: to.vg, ...(thinPool ? { thinPool } : {}) },
      });
    else notMoved.push(`${disk.target}: ${disk.refused?.reason ?? "not a logical volume"}`);
  }
  return { disks, notMoved };
}

// Inventories and hosts for the wizard's unit tests: shaped like the server's, only the fields that matter set.
import type { Host, Inventory, InventoryLv, InventoryThinPool, InventoryVg } from "@blockferry/contracts";

export const MiB = 1024 * 1024;

export const vg = (name: string, freeBytes: number): InventoryVg => ({
  name,
  uuid: `uuid-${name}`,
  sizeBytes: 8 * 1024 * MiB,
  freeBytes,
  extentSizeBytes: 4 * MiB,
  extentCount: 2048,
  freeExtentCount: Math.floor(freeBytes / (4 * MiB)),
  pvCount: 1,
  lvCount: 1,
  tags: [],
});

export const lv = (vgName: string, name: string, o: Partial<InventoryLv> = {}): InventoryLv => ({
  vg: vgName,
  name,
  uuid: `uuid-${vgName}-${name}`,
  path: `/dev/${vgName}/${name}`,
  dmName: `${vgName.replaceAll("-", "--")}-${name.replaceAll("-", "--")}`,
  kind: "linear",
  segtype: "linear",
  attr: "-wi-a-----",
  sizeBytes: 64 * MiB,
  active: true,
  open: false,
  tags: [],
  origin: null,
  pool: null,
  thinId: null,
  chunkSizeBytes: null,
  migratedAway: null,
  ...o,
});

export const pool = (vgName: string, name: string, sizeBytes = 1024 * MiB): InventoryThinPool => ({
  vg: vgName,
  name,
  sizeBytes,
  chunkSizeBytes: 64 * 1024,
  dataPercent: 10,
  metadataPercent: 2,
  transactionId: 1,
  heldMetadataRoot: null,
  mode: "writable",
  needsCheck: false,
  tags: [],
});

export function inventory(o: Partial<Inventory> & { virsh?: boolean } = {}): Inventory {
  const { virsh = true, ...rest } = o;
  return {
    collectedAt: "2026-12-03T00:00:00.000Z",
    tools: {
      lvm: "2.03.16",
      dmsetup: "1.02.185",
      thinDelta: null,
      sha256sum: "9.1",
      b2sum: "9.1",
      virsh: virsh ? "9.0.0" : null,
    },
    vgs: [],
    lvs: [],
    snapshots: [],
    thinPools: [],
    domains: virsh ? [] : null,
    warnings: [],
    ...rest,
  };
}

export const host = (id: number, name: string, status: Host["status"] = "trusted"): Host => ({
  id,
  name,
  address: "127.0.0.1",
  port: 22,
  username: "root",
  keySource: "pasted",
  privateKeyPath: null,
  status,
  pinnedFingerprint: null,
  seenFingerprint: null,
  maxConcurrency: 2,
  migrationAddress: null,
  createdAt: "2026-12-03T00:00:00.000Z",
  updatedAt: "2026-12-03T00:00:00.000Z",
});

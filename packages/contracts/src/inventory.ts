import { type Static, Type } from "typebox";

const Bytes = Type.Integer({ minimum: 0, description: "bytes" });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const LvKind = Type.Union([
  Type.Literal("linear"),
  Type.Literal("thin"),
  Type.Literal("thin-pool"),
  Type.Literal("snapshot"),
  Type.Literal("origin"),
  Type.Literal("other"),
]);
export type LvKind = Static<typeof LvKind>;

export const InventoryVg = Type.Object({
  name: Type.String(),
  uuid: Type.String(),
  sizeBytes: Bytes,
  freeBytes: Bytes,
  extentSizeBytes: Bytes,
  extentCount: Type.Integer({ minimum: 0 }),
  freeExtentCount: Type.Integer({ minimum: 0 }),
  pvCount: Type.Integer({ minimum: 0 }),
  lvCount: Type.Integer({ minimum: 0 }),
  tags: Type.Array(Type.String()),
});
export type InventoryVg = Static<typeof InventoryVg>;

export const InventoryLv = Type.Object({
  vg: Type.String(),
  name: Type.String(),
  uuid: Type.String(),
  /** `/dev/VG/LV` */
  path: Type.String(),
  /** device-mapper name (`-` doubled) */
  dmName: Type.String(),
  kind: LvKind,
  segtype: Type.String(),
  attr: Type.String(),
  sizeBytes: Bytes,
  active: Type.Boolean(),
  open: Type.Boolean(),
  tags: Type.Array(Type.String()),
  /** origin LV of a snapshot (classic or thin) */
  origin: Nullable(Type.String()),
  /** thin pool of a thin LV */
  pool: Nullable(Type.String()),
  thinId: Nullable(Type.Integer({ minimum: 0 })),
  chunkSizeBytes: Nullable(Bytes),
  /** The job that migrated this LV away (its `blockferry_migrated_<id>` tag): a kept copy, not a live disk. */
  migratedAway: Nullable(Type.Object({ jobId: Type.Integer({ minimum: 1 }) })),
});
export type InventoryLv = Static<typeof InventoryLv>;

export const SnapshotState = Type.Union([
  Type.Literal("valid"),
  Type.Literal("invalid"),
  Type.Literal("overflow"),
  Type.Literal("merge-failed"),
  Type.Literal("unknown"),
  Type.Literal("inactive"),
]);

export const InventorySnapshot = Type.Object({
  vg: Type.String(),
  name: Type.String(),
  origin: Type.String(),
  type: Type.Union([Type.Literal("cow"), Type.Literal("thin")]),
  sizeBytes: Bytes,
  chunkSizeBytes: Nullable(Bytes),
  /** COW fill level from lvs snap_percent; null for thin snapshots */
  fillPercent: Nullable(Type.Number()),
  state: SnapshotState,
  /** from `dmsetup status` (512-byte sectors); null when inactive or thin */
  allocatedSectors: Nullable(Type.Integer({ minimum: 0 })),
  totalSectors: Nullable(Type.Integer({ minimum: 0 })),
  metadataSectors: Nullable(Type.Integer({ minimum: 0 })),
  tags: Type.Array(Type.String()),
});
export type InventorySnapshot = Static<typeof InventorySnapshot>;

export const InventoryThinPool = Type.Object({
  vg: Type.String(),
  name: Type.String(),
  sizeBytes: Bytes,
  chunkSizeBytes: Nullable(Bytes),
  dataPercent: Nullable(Type.Number()),
  metadataPercent: Nullable(Type.Number()),
  transactionId: Nullable(Type.Integer({ minimum: 0 })),
  /** non-null: a metadata snapshot is reserved (a forgotten `reserve_metadata_snap` blocks the next one) */
  heldMetadataRoot: Nullable(Type.Integer({ minimum: 0 })),
  mode: Nullable(Type.String()),
  needsCheck: Type.Boolean(),
  tags: Type.Array(Type.String()),
});
export type InventoryThinPool = Static<typeof InventoryThinPool>;

/** The LV behind a VM's disk, when Blockferry can migrate it. */
export const DomainDiskVolume = Type.Object({
  vg: Type.String(),
  lv: Type.String(),
  sizeBytes: Bytes,
  kind: Type.Union([Type.Literal("classic"), Type.Literal("thin")]),
});
export type DomainDiskVolume = Static<typeof DomainDiskVolume>;

export const InventoryDomainDisk = Type.Object({
  /** as `virsh domblklist --details` says: block, file, network, volume... */
  type: Type.String(),
  /** disk, cdrom, floppy, lun */
  device: Type.String(),
  target: Type.String(),
  source: Nullable(Type.String()),
  /** the LV it is, when it can be migrated; null otherwise (then `refused` says why) */
  volume: Nullable(DomainDiskVolume),
  /**
   * Why the disk is not migrated. `blocksVm`: the VM cannot move without it (a file, network disk or device that
   * is not an LV); false for removable media, which stay where they are (the target needs the image at the same
   * path: a precheck asks it).
   */
  refused: Nullable(Type.Object({ reason: Type.String(), blocksVm: Type.Boolean() })),
});
export type InventoryDomainDisk = Static<typeof InventoryDomainDisk>;

export const InventoryDomain = Type.Object({
  name: Type.String(),
  /** `virsh domstate`: running, shut off, paused...; null when it could not be read */
  state: Nullable(Type.String()),
  disks: Type.Array(InventoryDomainDisk),
  /** why the disks could not be listed, if so */
  error: Nullable(Type.String()),
  /** why the VM cannot be migrated as a whole (a disk that cannot move with it, no LV disk, disks unknown), or null */
  refusal: Nullable(Type.String()),
});
export type InventoryDomain = Static<typeof InventoryDomain>;

export const ToolVersions = Type.Object({
  lvm: Nullable(Type.String()),
  dmsetup: Nullable(Type.String()),
  thinDelta: Nullable(Type.String()),
  sha256sum: Nullable(Type.String()),
  b2sum: Nullable(Type.String()),
  virsh: Nullable(Type.String()),
});
export type ToolVersions = Static<typeof ToolVersions>;

export const Inventory = Type.Object(
  {
    collectedAt: Type.String({ description: "ISO 8601" }),
    tools: ToolVersions,
    vgs: Type.Array(InventoryVg),
    lvs: Type.Array(InventoryLv),
    snapshots: Type.Array(InventorySnapshot),
    thinPools: Type.Array(InventoryThinPool),
    /** null when virsh is not installed */
    domains: Nullable(Type.Array(InventoryDomain)),
    /** non-fatal problems (dmsetup or virsh failing), human readable */
    warnings: Type.Array(Type.String()),
  },
  { $id: "Inventory" },
);
export type Inventory = Static<typeof Inventory>;

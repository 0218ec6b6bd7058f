import type {
  CreateMigrationSet,
  DataPath,
  Inventory,
  InventoryDomainDisk,
  InventoryLv,
  VmControl,
} from "@blockferry/contracts";
import { MAX_MIGRATION_DISKS } from "@blockferry/contracts";
import { cutoverRequest, emptyPolicyFields, type PolicyFields } from "../../lib/cutover-policy.ts";

export { MAX_MIGRATION_DISKS };

/** A source volume as the wizard keeps it: enough to suggest defaults without the inventory at hand. */
export interface SourceVolume {
  vg: string;
  lv: string;
  sizeBytes: number;
  kind: InventoryLv["kind"];
  open: boolean;
  /** The libvirt VM using it, and its disk target there (vda). */
  domain?: string;
  disk?: string;
}

/** A source volume's key, `vg/lv`: how the draft keeps the operator's choices per disk. */
export const keyOf = (s: Pick<SourceVolume, "vg" | "lv">) => `${s.vg}/${s.lv}`;

/**
 * One disk as the wizard plans it: its source, where it goes and the new LV's name, with the two hosts (whether the
 * destination is the source's own VG depends on them).
 */
export interface DiskPlan {
  sourceHostId?: number;
  targetHostId?: number;
  source?: SourceVolume;
  target?: { vg: string; thinPool?: string };
  targetLv?: string;
}

/** How the disks are picked: a libvirt VM's LV disks, or logical volumes by hand. */
export type PickMode = "vm" | "lvs";

/**
 * What the wizard has collected so far; turned into a CreateMigration only when complete. A field left undefined
 * follows the default the inventory suggests (defaults.ts resolveDraft), so a default can change with the facts
 * until the operator overrides it.
 */
export interface Draft {
  sourceHostId?: number;
  /** undefined: a VM when the source host has any, else LVs by hand. */
  pick?: PickMode;
  /** The VM picked (pick "vm"). */
  domain?: string;
  /** The disks: the VM's, in its order, or the LVs in the order picked. */
  sources: SourceVolume[];
  targetHostId?: number;
  /** The destination the operator chose for a disk, by its source key. */
  targets: Record<string, { vg: string; thinPool?: string }>;
  /** The new LV's name the operator typed for a disk, by its source key. */
  targetLvs: Record<string, string>;
  controller?: VmControl["controller"];
  commands: { stopSource: string; startSource: string; startTarget: string };
  libvirt: {
    domain: string;
    shutdownTimeoutSeconds: number;
    undefineSource: boolean;
    /** false: defined on the destination and left shut off (a maintenance move). */
    startTarget: boolean;
    /** Source network or bridge name -> the destination's, for what the destination lacks. */
    networkMap: Record<string, string>;
  };
  cutover: "manual" | "auto";
  /** An automatic cutover's budget, pass limit and window as typed; all empty for none. */
  cutoverPolicy: PolicyFields;
  bandwidthMiBps: string;
  catchUpPasses: number;
  /** MiB, empty for the server's default (a quarter of the volume, at least 32 MiB). */
  snapshotSizeMiB: string;
  /** Write into an existing target LV of that name (same size, not open). */
  reuseTarget: boolean;
  /** Which way the bytes travel; auto: host to host when the prechecks say it works, else through the server. */
  dataPath: DataPath;
}

/** What uses the disks, for the controller's suggestion: the VM they belong to, and whether any is open. */
export interface DiskUsage {
  domain?: string;
  open: boolean;
}

/** The draft with its defaults filled in: each disk's destination and name, the pick mode, the controller. */
export interface Plan extends Draft {
  pick: PickMode;
  disks: DiskPlan[];
  usage: DiskUsage;
}

export const emptyDraft = (): Draft => ({
  sources: [],
  targets: {},
  targetLvs: {},
  commands: { stopSource: "", startSource: "", startTarget: "" },
  libvirt: { domain: "", shutdownTimeoutSeconds: 120, undefineSource: false, startTarget: true, networkMap: {} },
  cutover: "manual",
  cutoverPolicy: emptyPolicyFields(),
  bandwidthMiBps: "",
  catchUpPasses: 0,
  snapshotSizeMiB: "",
  reuseTarget: false,
  dataPath: "auto",
});

export interface VolumeChoice {
  key: string;
  vg: string;
  lv: string;
  sizeBytes: number;
  kind: InventoryLv["kind"];
  open: boolean;
  /** The VM and its disk target when a libvirt domain uses this LV. */
  domain?: string;
  disk?: string;
  /** Already migrated away by this job (its kept copy, tagged by the clean-up): moving it again is rarely meant. */
  migratedAwayBy?: number;
}

/** LVs that can be migrated (not snapshots or pools), each tied to the VM that uses it, if any. */
export function volumeChoices(inv: Inventory): VolumeChoice[] {
  const users = new Map<string, { domain: string; disk: string }>();
  for (const d of inv.domains ?? []) {
    for (const disk of d.disks) if (disk.source) users.set(disk.source, { domain: d.name, disk: disk.target });
  }
  return inv.lvs
    .filter((lv) => lv.kind === "linear" || lv.kind === "thin" || lv.kind === "origin")
    .map((lv) => {
      const user = users.get(lv.path) ?? users.get(`/dev/mapper/${lv.dmName}`);
      return {
        key: `${lv.vg}/${lv.name}`,
        vg: lv.vg,
        lv: lv.name,
        sizeBytes: lv.sizeBytes,
        kind: lv.kind,
        open: lv.open,
        ...(user ? { domain: user.domain, disk: user.disk } : {}),
        ...(lv.migratedAway ? { migratedAwayBy: lv.migratedAway.jobId } : {}),
      };
    })
    .sort((a, b) => Number(Boolean(b.domain)) - Number(Boolean(a.domain)) || a.key.localeCompare(b.key));
}

export interface TargetChoice {
  key: string;
  vg: string;
  thinPool?: string;
  /** Room for the volume: VG free bytes, or the pool's unused data. */
  freeBytes: number;
  label: string;
}

export function targetChoices(inv: Inventory): TargetChoice[] {
  const vgs: TargetChoice[] = inv.vgs.map((vg) => ({
    key: vg.name,
    vg: vg.name,
    freeBytes: vg.freeBytes,
    label: `VG ${vg.name}`,
  }));
  const pools: TargetChoice[] = inv.thinPools.map((p) => ({
    key: `${p.vg}/${p.name}`,
    vg: p.vg,
    thinPool: p.name,
    freeBytes: Math.max(0, Math.floor(p.sizeBytes * (1 - (p.dataPercent ?? 0) / 100))),
    label: `thin pool ${p.vg}/${p.name}`,
  }));
  return [...vgs, ...pools];
}

function vmControl(d: Draft): VmControl | null {
  switch (d.controller) {
    case undefined:
      return null;
    case "none":
      return { controller: "none" };
    case "commands": {
      const { stopSource, startSource, startTarget } = d.commands;
      if (!stopSource.trim() || !startTarget.trim()) return null;
      return {
        controller: "commands",
        stopSource: stopSource.trim(),
        startTarget: startTarget.trim(),
        ...(startSource.trim() ? { startSource: startSource.trim() } : {}),
      };
    }
    case "libvirt":
      if (!/^[A-Za-z0-9_.+-]+$/.test(d.libvirt.domain)) return null;
      return {
        controller: "libvirt",
        domain: d.libvirt.domain,
        shutdownTimeoutSeconds: d.libvirt.shutdownTimeoutSeconds,
        undefineSource: d.libvirt.undefineSource,
        startTarget: d.libvirt.startTarget,
        ...(Object.keys(d.libvirt.networkMap).length ? { networkMap: { ...d.libvirt.networkMap } } : {}),
      };
  }
}

const LV_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$/;
export const validLvName = (s: string) => s.length <= 127 && LV_NAME.test(s) && !/^(snapshot|pvmove)/.test(s);

const MiB = 1024 * 1024;
/** The API's floor for a snapshot (MigrationOptions.snapshotSizeBytes). */
export const MIN_SNAPSHOT_MIB = 4;

/** The snapshot size field in bytes: undefined when empty (the server's default), null when not a usable size. */
export function snapshotBytes(field: string): number | undefined | null {
  if (!field.trim()) return undefined;
  const mib = Number(field);
  return Number.isFinite(mib) && mib >= MIN_SNAPSHOT_MIB ? Math.round(mib * MiB) : null;
}

/** The request body, or null while something required is missing or invalid. */
export function toCreateMigration(p: Plan): CreateMigrationSet | null {
  if (!p.sourceHostId || !p.targetHostId || p.disks.length === 0 || p.disks.length > MAX_MIGRATION_DISKS) return null;
  const vm = vmControl(p);
  const snapshot = snapshotBytes(p.snapshotSizeMiB);
  const cutover = cutoverRequest(p.cutover, p.cutoverPolicy);
  if (!vm || snapshot === null || cutover === null) return null;
  const disks: CreateMigrationSet["disks"] = [];
  for (const d of p.disks) {
    const lv = d.targetLv?.trim() || d.source?.lv || "";
    if (!d.source || !d.target || !validLvName(lv)) return null;
    disks.push({
      source: { vg: d.source.vg, lv: d.source.lv },
      target: { vg: d.target.vg, lv, ...(d.target.thinPool ? { thinPool: d.target.thinPool } : {}) },
    });
  }
  const mibps = Number(p.bandwidthMiBps);
  const limit = p.bandwidthMiBps.trim() && mibps > 0 ? Math.round(mibps * MiB) : undefined;
  return {
    sourceHostId: p.sourceHostId,
    targetHostId: p.targetHostId,
    disks,
    vm,
    cutover,
    options: {
      catchUpPasses: p.catchUpPasses,
      ...(limit ? { bandwidthLimitBytesPerSecond: limit } : {}),
      ...(snapshot ? { snapshotSizeBytes: snapshot } : {}),
      ...(p.reuseTarget ? { reuseTarget: true } : {}),
      dataPath: p.dataPath,
    },
  };
}

/** The picked volume as the draft keeps it. */
export const sourceOf = (c: VolumeChoice): SourceVolume => ({
  vg: c.vg,
  lv: c.lv,
  sizeBytes: c.sizeBytes,
  kind: c.kind,
  open: c.open,
  ...(c.domain ? { domain: c.domain } : {}),
  ...(c.disk ? { disk: c.disk } : {}),
});

/** A libvirt VM as the wizard offers it: its disks as the inventory classified them, and the LVs among them. */
export interface VmChoice {
  name: string;
  state: string | null;
  disks: InventoryDomainDisk[];
  /** The LV disks, in the VM's order: what a migration of this VM moves. */
  sources: SourceVolume[];
  /** Why it cannot be moved as a whole, or null. */
  refusal: string | null;
}

export function vmChoices(inv: Inventory): VmChoice[] {
  const lvs = new Map(inv.lvs.map((lv) => [keyOf({ vg: lv.vg, lv: lv.name }), lv]));
  return (inv.domains ?? []).map((d) => ({
    name: d.name,
    state: d.state,
    disks: d.disks,
    refusal: d.refusal,
    sources: d.disks.flatMap((disk) => {
      if (!disk.volume) return [];
      const lv = lvs.get(keyOf(disk.volume));
      return [
        {
          vg: disk.volume.vg,
          lv: disk.volume.lv,
          sizeBytes: disk.volume.sizeBytes,
          kind: lv?.kind ?? (disk.volume.kind === "thin" ? "thin" : "linear"),
          // A VM's disk is open while the VM runs, whatever the inventory's moment caught.
          open: lv?.open ?? d.state === "running",
          domain: d.name,
          disk: disk.target,
        },
      ];
    }),
  }));
}

/** Whether a destination can hold the volume: a VG needs the room free; a thin pool over-commits. */
export const fits = (c: TargetChoice, needBytes: number) => Boolean(c.thinPool) || c.freeBytes >= needBytes;

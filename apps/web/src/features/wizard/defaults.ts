/**
 * The wizard's defaults, from what the inventory knows: the destination when there is only one that fits, a
 * target name that is never the source volume itself, and the VM controller the volume's use calls for among those
 * both hosts can run. Pure; tested in apps/web/test/wizard-defaults.test.ts.
 */
import type { Host, Inventory, VmControl } from "@blockferry/contracts";
import {
  type DiskPlan,
  type DiskUsage,
  type Draft,
  fits,
  keyOf,
  type PickMode,
  type Plan,
  type SourceVolume,
  type TargetChoice,
  targetChoices,
  validLvName,
} from "./plan.ts";

type Controller = VmControl["controller"];

/** The destination host when only one trusted host is not the source: the usual two-hypervisor move. */
export function defaultTargetHost(hosts: Host[], sourceHostId: number | undefined): number | undefined {
  if (sourceHostId === undefined) return undefined;
  const others = hosts.filter((h) => h.status === "trusted" && h.id !== sourceHostId);
  return others.length === 1 ? others[0]?.id : undefined;
}

/**
 * The destination to preselect, or undefined where the operator has a real choice: the only choice that fits;
 * else, on a host with one VG, its only thin pool for a thin volume, or the VG itself.
 */
export function defaultTarget(choices: TargetChoice[], source: SourceVolume): TargetChoice | undefined {
  const fitting = choices.filter((c) => fits(c, source.sizeBytes));
  if (fitting.length === 1) return fitting[0];
  if (new Set(choices.map((c) => c.vg)).size !== 1) return undefined;
  if (source.kind === "thin") {
    const pools = fitting.filter((c) => c.thinPool);
    if (pools.length === 1) return pools[0];
  }
  return fitting.find((c) => !c.thinPool);
}

/** Whether the destination is the source volume's own VG on the same host. */
export const sameVg = (
  d: Pick<DiskPlan, "sourceHostId" | "targetHostId" | "source">,
  target: { vg: string } | undefined,
): boolean => d.sourceHostId !== undefined && d.sourceHostId === d.targetHostId && d.source?.vg === target?.vg;

/** The first of `base`, `base-copy`, `base-copy2`... that no LV in `taken` has and LVM accepts. */
export function freeLvName(base: string, taken: ReadonlySet<string>): string {
  const candidates = (function* () {
    yield base;
    yield `${base}-copy`;
    for (let i = 2; ; i++) yield `${base}-copy${i}`;
  })();
  for (const name of candidates) {
    // Long names: shorten the base so the suffix still fits LVM's 127 characters.
    const fitted =
      name.length > 127 ? `${base.slice(0, 127 - (name.length - base.length))}${name.slice(base.length)}` : name;
    if (!taken.has(fitted) && validLvName(fitted)) return fitted;
  }
  return base; // unreachable: the generator never ends
}

/** LV names in `vg` on the destination, as far as its inventory knows. */
export const lvNamesIn = (inv: Inventory | undefined, vg: string): Set<string> =>
  new Set((inv?.lvs ?? []).filter((lv) => lv.vg === vg).map((lv) => lv.name));

/**
 * The suggested name of the new LV: the source's own name, except in the source's own VG on the same host, where
 * that name is the source itself; there the first free `-copy` name.
 */
export function suggestTargetName(
  d: Pick<DiskPlan, "sourceHostId" | "targetHostId" | "source">,
  target: { vg: string } | undefined,
  targetInv: Inventory | undefined,
): string {
  const base = d.source?.lv ?? "";
  if (!base || !sameVg(d, target)) return base;
  const taken = lvNamesIn(targetInv, target?.vg ?? "");
  taken.add(base);
  return freeLvName(base, taken);
}

export interface ControllerAvailability {
  ok: boolean;
  /** Why it cannot run, in words, when not ok. */
  reason?: string;
}

/**
 * Which VM controllers both hosts can run. libvirt needs virsh on the source (shutdown, dumpxml) and on the
 * destination (define, start): the inventory's tool probe says whether each has it. An inventory not loaded yet
 * counts as unknown, not as missing.
 */
export function controllerAvailability(
  source: { name: string; inventory: Inventory | undefined },
  target: { name: string; inventory: Inventory | undefined },
): Record<Controller, ControllerAvailability> {
  const lacking = [source, target]
    .filter((h, i, all) => all.findIndex((x) => x.name === h.name) === i)
    .filter((h) => h.inventory && h.inventory.tools.virsh === null)
    .map((h) => h.name);
  return {
    none: { ok: true },
    commands: { ok: true },
    libvirt: lacking.length ? { ok: false, reason: `virsh is not installed on ${lacking.join(" or ")}` } : { ok: true },
  };
}

/**
 * The controller the disks call for: libvirt for a libvirt VM's disks (when both hosts can run it); for any other
 * volume in use, the operator's own commands, since "None" would copy a disk still being written while the VM runs
 * on; "None" only when nobody has the volumes open.
 */
export function suggestController(usage: DiskUsage, available: Record<Controller, ControllerAvailability>): Controller {
  if (usage.domain && available.libvirt.ok) return "libvirt";
  if (usage.open || usage.domain) return "commands";
  return "none";
}

/** What uses the disks: the VM picked, or the one VM every LV picked by hand belongs to; open if any is. */
export function usageOf(d: Pick<Draft, "domain" | "sources">, pick: PickMode): DiskUsage {
  const domains = new Set(d.sources.map((s) => s.domain));
  const shared = domains.size === 1 ? [...domains][0] : undefined;
  const domain = pick === "vm" ? d.domain : shared;
  return { ...(domain ? { domain } : {}), open: d.sources.some((s) => s.open) };
}

/** A VM when the source host has libvirt domains, else LVs by hand. */
export const defaultPick = (inv: Inventory | undefined): PickMode => (inv?.domains?.length ? "vm" : "lvs");

export interface Facts {
  hosts: Host[];
  sourceInventory: Inventory | undefined;
  targetInventory: Inventory | undefined;
}

const hostName = (hosts: Host[], id: number | undefined) => hosts.find((h) => h.id === id)?.name ?? `host #${id}`;

/** Availability of each controller for the draft's two hosts. */
export const availabilityFor = (d: Pick<Draft, "sourceHostId" | "targetHostId">, f: Facts) =>
  controllerAvailability(
    { name: hostName(f.hosts, d.sourceHostId), inventory: f.sourceInventory },
    { name: hostName(f.hosts, d.targetHostId), inventory: f.targetInventory },
  );

/** The draft with every field the operator left open filled with its default (where one fits). */
export function resolveDraft(d: Draft, f: Facts): Plan {
  const targetHostId = d.targetHostId ?? defaultTargetHost(f.hosts, d.sourceHostId);
  const withHost = { ...d, ...(targetHostId !== undefined ? { targetHostId } : {}) };
  const pick = d.pick ?? defaultPick(f.sourceInventory);
  const choices = f.targetInventory && targetHostId !== undefined ? targetChoices(f.targetInventory) : [];
  const disks = d.sources.map((source): DiskPlan => {
    const key = keyOf(source);
    const fallback = defaultTarget(choices, source);
    const target =
      d.targets[key] ??
      (fallback ? { vg: fallback.vg, ...(fallback.thinPool ? { thinPool: fallback.thinPool } : {}) } : undefined);
    const disk: DiskPlan = {
      ...(d.sourceHostId !== undefined ? { sourceHostId: d.sourceHostId } : {}),
      ...(targetHostId !== undefined ? { targetHostId } : {}),
      source,
      ...(target ? { target } : {}),
    };
    return { ...disk, targetLv: d.targetLvs[key] ?? suggestTargetName(disk, target, f.targetInventory) };
  });
  const usage = usageOf(d, pick);
  const available = availabilityFor(withHost, f);
  return {
    ...withHost,
    pick,
    disks,
    usage,
    ...(d.controller || d.sources.length ? { controller: d.controller ?? suggestController(usage, available) } : {}),
    libvirt: { ...d.libvirt, domain: d.libvirt.domain || usage.domain || "" },
  };
}

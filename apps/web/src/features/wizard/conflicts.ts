/**
 * A target name the destination's inventory already holds, told at the name field before any precheck runs.
 * Pure; tested in apps/web/test/wizard-conflicts.test.ts.
 */
import type { Inventory, InventoryLv } from "@blockferry/contracts";
import { formatBytes } from "../../lib/format.ts";
import { freeLvName, lvNamesIn, sameVg } from "./defaults.ts";
import { type DiskPlan, keyOf } from "./plan.ts";

export interface NameConflict {
  /** "source": the name is the volume being moved; "exists": another LV has it. */
  kind: "source" | "exists";
  message: string;
  /** Whether the migration may write into it (the API's reuseTarget): same size, not open, a plain volume. */
  reusable: boolean;
  /** A free name to offer instead. */
  suggestion: string;
}

const REUSABLE_KINDS: InventoryLv["kind"][] = ["linear", "thin"];

/** Why the existing LV cannot take the copy, or null when it can. */
function whyNotReusable(existing: InventoryLv, sourceBytes: number): string | null {
  if (!REUSABLE_KINDS.includes(existing.kind))
    return `it is a ${existing.kind === "origin" ? "volume with snapshots" : existing.kind}`;
  if (existing.sizeBytes !== sourceBytes)
    return `it has ${formatBytes(existing.sizeBytes)}, the volume ${formatBytes(sourceBytes)}`;
  if (existing.open) return "it is in use";
  return null;
}

/** The conflict of a disk's (resolved) target name with the destination's inventory, or null. */
export function nameConflict(d: DiskPlan, targetInv: Inventory | undefined): NameConflict | null {
  const name = d.targetLv?.trim();
  if (!targetInv || !d.source || !d.target || !name) return null;
  const { vg } = d.target;
  const existing = targetInv.lvs.find((lv) => lv.vg === vg && lv.name === name);
  if (!existing) return null;
  const taken = lvNamesIn(targetInv, vg);
  const suggestion = freeLvName(d.source.lv, taken);
  if (sameVg(d, d.target) && name === d.source.lv)
    return {
      kind: "source",
      message: `${vg}/${name} is the volume you are moving: the copy needs another name.`,
      reusable: false,
      suggestion,
    };
  const why = whyNotReusable(existing, d.source.sizeBytes);
  return {
    kind: "exists",
    message: why
      ? `${vg}/${name} already exists on the destination and cannot be reused: ${why}.`
      : `${vg}/${name} already exists on the destination (same size, not in use).`,
    reusable: why === null,
    suggestion,
  };
}

/** Whether the name is settled: free, or an existing LV the operator chose to reuse. */
export const nameSettled = (c: NameConflict | null, reuseTarget: boolean) => c === null || (c.reusable && reuseTarget);

/**
 * Disks of one migration that would land on the same target LV (LVs of the same name from two source VGs, or a
 * name typed twice): for each such disk after the first, the index of the disk that has the name already.
 */
export function sharedTargets(disks: readonly DiskPlan[]): Map<number, number> {
  const first = new Map<string, number>();
  const shared = new Map<number, number>();
  disks.forEach((d, i) => {
    if (!d.target || !d.source) return;
    const key = keyOf({ vg: d.target.vg, lv: d.targetLv?.trim() || d.source.lv });
    const other = first.get(key);
    if (other === undefined) first.set(key, i);
    else shared.set(i, other);
  });
  return shared;
}

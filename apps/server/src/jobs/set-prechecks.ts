import type { PrecheckResult } from "@blockferry/contracts";
import { bytesWithExact } from "@blockferry/contracts/units";
import type { HostShell } from "./context.ts";
import { findLv, findVg } from "./lvm-ops.ts";
import { MIN_SNAPSHOT_BYTES, type PlannedMigration, runPrechecks } from "./prechecks.ts";
import { libvirtPrechecks } from "./vm/libvirt-prechecks.ts";

type Check = PrecheckResult["checks"][number];

/**
 * Prechecks of a VM's disk set: every disk's own checks (named by disk), then what only the set can tell: whether
 * each target VG holds all the classic disks going there, and each source VG all their classic snapshots. A set of
 * one disk is checked exactly as a one-disk migration always was.
 */
export async function runSetPrechecks(
  plans: readonly PlannedMigration[],
  shells: { source: HostShell | null; target: HostShell | null },
  hostProblems: Check[],
  signal?: AbortSignal,
): Promise<PrecheckResult & { diskBytes: number[] }> {
  const [only] = plans;
  if (plans.length === 1 && only) {
    const r = await runPrechecks(only, shells, hostProblems, signal);
    const vm = await vmChecks(plans, r.checks, shells, signal);
    return {
      ...r,
      ok: r.ok && vm.every((c) => c.ok),
      checks: [...r.checks, ...vm],
      diskBytes: [r.estimate?.bytes ?? 0],
    };
  }
  const checks: Check[] = [...hostProblems];
  const diskBytes: number[] = [];
  for (const [i, plan] of plans.entries()) {
    const r = await runPrechecks(plan, shells, [], signal);
    diskBytes.push(r.estimate?.bytes ?? 0);
    for (const c of r.checks) checks.push({ ...c, name: `disk ${i}: ${c.name}` });
  }
  if (checks.every((c) => c.ok)) checks.push(...(await setTotals(plans, diskBytes, shells, signal)));
  checks.push(...(await vmChecks(plans, checks, shells, signal)));
  signal?.throwIfAborted();
  const bytes = diskBytes.reduce((a, b) => a + b, 0);
  return {
    ok: checks.every((c) => c.ok),
    checks,
    diskBytes,
    estimate: { bytes, fullCopySeconds: null, expectedOutageSeconds: null },
  };
}

/** Room summed over the disks sharing a VG: each may fit alone and the set still not. */
async function setTotals(
  plans: readonly PlannedMigration[],
  diskBytes: readonly number[],
  shells: { source: HostShell | null; target: HostShell | null },
  signal?: AbortSignal,
): Promise<Check[]> {
  const checks: Check[] = [];
  const sum = async (pick: (p: PlannedMigration, i: number) => Promise<[string, number] | null>) => {
    const by = new Map<string, number>();
    for (const [i, p] of plans.entries()) {
      const got = await pick(p, i);
      if (got) by.set(got[0], (by.get(got[0]) ?? 0) + got[1]);
    }
    return by;
  };
  const room = async (shell: HostShell, need: Map<string, number>, what: string, name: string) => {
    for (const [vgName, bytes] of need) {
      const vg = await findVg(shell, vgName, signal);
      const free = vg?.freeBytes ?? 0;
      checks.push({
        name,
        ok: free >= bytes,
        message:
          free >= bytes
            ? `${bytesWithExact(free)} free in ${vgName} on ${shell.name} for ${what} (${bytesWithExact(bytes)})`
            : `${vgName} on ${shell.name} has ${bytesWithExact(free)} free; ${what} need ${bytesWithExact(bytes)}`,
      });
    }
  };
  if (shells.target) {
    const need = await sum(async (p, i) => (p.target.thinPool ? null : [p.target.vg, diskBytes[i] ?? 0]));
    await room(shells.target, need, "the disks going there", "target room (all disks)");
  }
  if (shells.source) {
    // Thin sources snapshot into their pool; a classic snapshot needs its own space (at least the minimum).
    const source = shells.source;
    const need = await sum(async (p) => {
      const lv = await findLv(source, p.source.vg, p.source.lv, signal);
      return lv?.kind === "thin" ? null : [p.source.vg, p.options.snapshotSizeBytes ?? MIN_SNAPSHOT_BYTES];
    });
    await room(source, need, "the snapshots of its disks", "snapshot space (all disks)");
  }
  return checks;
}

/** The VM's own checks, once for the set (libvirt: its domain), when virsh was found where it is needed. */
async function vmChecks(
  plans: readonly PlannedMigration[],
  done: readonly Check[],
  shells: { source: HostShell | null; target: HostShell | null },
  signal?: AbortSignal,
): Promise<Check[]> {
  const vm = plans[0]?.vm;
  if (vm?.controller !== "libvirt") return [];
  if (done.some((c) => c.name.endsWith("VM control") && !c.ok)) return [];
  const disks = plans.map((p) => ({
    sourceVg: p.source.vg,
    sourceLv: p.source.lv,
    targetVg: p.target.vg,
    targetLv: p.target.lv,
  }));
  return libvirtPrechecks(vm, disks, shells, signal);
}

import { setMaxListeners } from "node:events";
import type { PrecheckResult } from "@blockferry/contracts";
import { bytesWithExact } from "@blockferry/contracts/units";
import { allInOrder } from "./all-in-order.ts";
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
  given: { source: HostShell | null; target: HostShell | null },
  hostProblems: Check[],
  jobSignal?: AbortSignal,
): Promise<PrecheckResult & { diskBytes: number[] }> {
  const signal = manyListeners(jobSignal);
  // Every disk asks its hosts the same questions (the VG's lvs and vgs, the tool probes): each is asked once.
  const shells = { source: askingOnce(given.source), target: askingOnce(given.target) };
  // The VM's checks ask other commands than the disks' and run alongside them; they count only when virsh was found.
  const [results, vm] = await allInOrder([
    allInOrder(
      plans.map((plan, i) => runPrechecks(plan, shells, i === 0 && plans.length === 1 ? hostProblems : [], signal)),
    ),
    libvirtChecks(plans, shells, signal),
  ]);
  const [only] = results;
  if (plans.length === 1 && only) {
    const own = vmChecks(vm, only.checks);
    return {
      ...only,
      ok: only.ok && own.every((c) => c.ok),
      checks: [...only.checks, ...own],
      diskBytes: [only.estimate?.bytes ?? 0],
    };
  }
  const checks: Check[] = [...hostProblems];
  const diskBytes: number[] = [];
  for (const [i, r] of results.entries()) {
    diskBytes.push(r.estimate?.bytes ?? 0);
    for (const c of r.checks) checks.push({ ...c, name: `disk ${i}: ${c.name}` });
  }
  if (checks.every((c) => c.ok)) checks.push(...(await setTotals(plans, diskBytes, shells, signal)));
  checks.push(...vmChecks(vm, checks));
  signal?.throwIfAborted();
  const bytes = diskBytes.reduce((a, b) => a + b, 0);
  return {
    ok: checks.every((c) => c.ok),
    checks,
    diskBytes,
    estimate: { bytes, fullCopySeconds: null, expectedOutageSeconds: null },
  };
}

/**
 * The host for one precheck run, where a command asked again (same text, same options) gets the first answer
 * instead of running again: prechecks only read, and one run is one look at the hosts. On a lab host (one TCG
 * vCPU) each LVM command costs about a second of its CPU, so the questions asked per disk would add up.
 */
function askingOnce(shell: HostShell | null): HostShell | null {
  if (!shell) return null;
  const asked = new Map<string, Promise<string>>();
  return {
    hostId: shell.hostId,
    name: shell.name,
    endpoint: shell.endpoint,
    run(command, opts) {
      if (opts?.stdin !== undefined) return shell.run(command, opts);
      const key = JSON.stringify([command, opts?.timeoutMs, opts?.stop]);
      const earlier = asked.get(key);
      if (earlier !== undefined) return earlier;
      const answer = shell.run(command, opts);
      asked.set(key, answer);
      return answer;
    },
    openByteSource: (path, opts) => shell.openByteSource(path, opts),
  };
}

/**
 * The prechecks' own view of the job's signal: every disk's lookups and probes run at once, a few dozen commands
 * each listening for the abort until it ends (then it lets go), past Node's warning at 10 listeners. The job's
 * signal keeps its limit for the phases after.
 */
function manyListeners(signal: AbortSignal | undefined): AbortSignal | undefined {
  if (!signal) return undefined;
  const own = AbortSignal.any([signal]);
  setMaxListeners(100, own);
  return own;
}

/** Room summed over the disks sharing a VG: each may fit alone and the set still not. */
async function setTotals(
  plans: readonly PlannedMigration[],
  diskBytes: readonly number[],
  shells: { source: HostShell | null; target: HostShell | null },
  signal?: AbortSignal,
): Promise<Check[]> {
  const sum = async (pick: (p: PlannedMigration, i: number) => Promise<[string, number] | null>) => {
    const by = new Map<string, number>();
    for (const got of await allInOrder(plans.map(pick))) if (got) by.set(got[0], (by.get(got[0]) ?? 0) + got[1]);
    return by;
  };
  const room = async (shell: HostShell, need: Map<string, number>, what: string, name: string) =>
    allInOrder(
      [...need].map(async ([vgName, bytes]): Promise<Check> => {
        const vg = await findVg(shell, vgName, signal);
        const free = vg?.freeBytes ?? 0;
        return {
          name,
          ok: free >= bytes,
          message:
            free >= bytes
              ? `${bytesWithExact(free)} free in ${vgName} on ${shell.name} for ${what} (${bytesWithExact(bytes)})`
              : `${vgName} on ${shell.name} has ${bytesWithExact(free)} free; ${what} need ${bytesWithExact(bytes)}`,
        };
      }),
    );
  const { source, target } = shells;
  // Target and source at once; their checks in this order.
  const [onTarget, onSource] = await allInOrder([
    target &&
      sum(async (p, i) => (p.target.thinPool ? null : [p.target.vg, diskBytes[i] ?? 0])).then((need) =>
        room(target, need, "the disks going there", "target room (all disks)"),
      ),
    // Thin sources snapshot into their pool; a classic snapshot needs its own space (at least the minimum).
    source &&
      sum(async (p) => {
        const lv = await findLv(source, p.source.vg, p.source.lv, signal);
        return lv?.kind === "thin" ? null : [p.source.vg, p.options.snapshotSizeBytes ?? MIN_SNAPSHOT_BYTES];
      }).then((need) => room(source, need, "the snapshots of its disks", "snapshot space (all disks)")),
  ]);
  return [...(onTarget ?? []), ...(onSource ?? [])];
}

/** libvirt's checks of the VM (its domain), once for the set; null for another controller. */
async function libvirtChecks(
  plans: readonly PlannedMigration[],
  shells: { source: HostShell | null; target: HostShell | null },
  signal?: AbortSignal,
): Promise<Check[] | null> {
  const vm = plans[0]?.vm;
  if (vm?.controller !== "libvirt") return null;
  const disks = plans.map((p) => ({
    sourceVg: p.source.vg,
    sourceLv: p.source.lv,
    targetVg: p.target.vg,
    targetLv: p.target.lv,
  }));
  return libvirtPrechecks(vm, disks, shells, signal);
}

/** The VM's own checks, when virsh was found where it is needed (else its missing virsh says it all). */
function vmChecks(vm: Check[] | null, done: readonly Check[]): Check[] {
  if (!vm || done.some((c) => c.name.endsWith("VM control") && !c.ok)) return [];
  return vm;
}

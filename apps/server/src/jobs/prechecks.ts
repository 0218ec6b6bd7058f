import type { CreateMigration, DataPath, MigrationOptions, PrecheckResult, VmControl } from "@blockferry/contracts";
import { bytesWithExact } from "@blockferry/contracts/units";
import {
  HASH_TOOL_PROBE_COMMAND,
  isValidLvName,
  isValidVgName,
  lvsCommand,
  parseLvsReport,
  toolsPresentCommand,
} from "@blockferry/lvm";
import type { HostRegistry } from "../hosts/trust/registry.ts";
import { allInOrder } from "./all-in-order.ts";
import type { HostShell } from "./context.ts";
import { PRECHECK_TIMEOUT_MS } from "./data-path.ts";
import { DirectPathUnavailableError, type ProbedHost, probeDirectPath } from "./direct-probe.ts";
import { findLv, findVg, vgName } from "./lvm-ops.ts";
import { diskVolumesOf, toDiskSet } from "./migration-disks.ts";
import { runSetPrechecks } from "./set-prechecks.ts";

export interface PlannedMigration {
  source: { vg: string; lv: string };
  target: { vg: string; lv: string; thinPool: string | null };
  options: MigrationOptions;
  /** How the VM is stopped and started; libvirt needs virsh on both hosts. */
  vm?: VmControl;
}

/** Assumed rate for the estimate until a job has measured a real one. */
const ASSUMED_BYTES_PER_SECOND = 100 * 1024 * 1024;
export const MIN_SNAPSHOT_BYTES = 32 * 1024 * 1024;

/** Default snapshot size: a quarter of the volume, at least 32 MiB, at most what the VG has free. */
export function defaultSnapshotBytes(lvBytes: number, vgFreeBytes: number, extentBytes: number): number {
  const want = Math.max(MIN_SNAPSHOT_BYTES, Math.ceil(lvBytes / 4));
  const capped = Math.min(want, vgFreeBytes);
  return Math.floor(capped / extentBytes) * extentBytes;
}

type Check = PrecheckResult["checks"][number];

/** Whether every tool in `tools` is on the host's PATH; an error reads as missing (the probe is the check). */
async function toolsCheck(shell: HostShell, tools: string[], signal?: AbortSignal): Promise<[boolean, string]> {
  const out = await shell.run(toolsPresentCommand(tools), { signal }).catch(() => "");
  const lines = out.split("\n");
  if (!lines.includes("checked")) return [false, `${shell.name}: could not check for ${tools.join(", ")}`];
  const missing = lines.filter((l) => l.startsWith("missing ")).map((l) => l.slice("missing ".length));
  return missing.length
    ? [false, `${shell.name} lacks ${missing.join(", ")}: install it (lvm2, coreutils, thin-provisioning-tools, gzip)`]
    : [true, `${tools.join(", ")} present`];
}

/**
 * The hash tool the transfer and the verify phase will use (HASH_TOOL_PROBE_COMMAND, the probe they run):
 * the target proves every range with its tool, and verify needs one tool on both hosts (SHA-256 where both
 * have openssl, b2sum otherwise).
 */
async function hashToolCheck(source: HostShell, target: HostShell, signal?: AbortSignal): Promise<Check> {
  const probe = (shell: HostShell) =>
    shell
      .run(HASH_TOOL_PROBE_COMMAND, { signal })
      .then((out) => out.trim())
      .catch(() => "none");
  const [a, b] = await Promise.all([probe(source), probe(target)]);
  const name = "hash tool";
  for (const [shell, tool] of [
    [source, a],
    [target, b],
  ] as const)
    if (tool !== "openssl-sha256" && tool !== "b2sum")
      return { name, ok: false, message: `${shell.name} has neither openssl nor b2sum (coreutils) to prove data` };
  if (a === b) return { name, ok: true, message: `both hosts hash with ${a}` };
  // One has openssl only as far as the probe says: verify falls back to b2sum, which that host must have too.
  const opensslHost = a === "openssl-sha256" ? source : target;
  const [ok] = await toolsCheck(opensslHost, ["b2sum"], signal);
  return ok
    ? { name, ok: true, message: "copies prove with each target's tool; verify uses b2sum on both hosts" }
    : { name, ok: false, message: `${opensslHost.name} lacks b2sum (coreutils), which verify needs on both hosts` };
}

/** libvirt stops the VM with virsh on the source and defines and starts it with virsh on the target. */
export async function virshCheck(shells: Array<HostShell | null>, signal?: AbortSignal): Promise<Check> {
  const name = "VM control";
  const found = await Promise.all(shells.map((shell) => shell && toolsCheck(shell, ["virsh"], signal)));
  const lacking = shells.flatMap((shell, i) => (shell && !found[i]?.[0] ? [shell.name] : []));
  return lacking.length
    ? {
        name,
        ok: false,
        message: `virsh is not installed on ${lacking.join(" or ")}: install libvirt-clients there, or let your own commands stop and start the VM`,
      }
    : { name, ok: true, message: "virsh present for libvirt" };
}

/**
 * The direct path's probe as the copy bounds it: a refused port answers at once, a silent address after the
 * keyscan's 10 s (not less: a loaded host's key exchange takes seconds, and a false "unreachable" would say auto
 * takes the relay when it would not).
 */
const DIRECT_PROBE = { timeoutMs: PRECHECK_TIMEOUT_MS };

/**
 * Whether the copies can go host to host (the probes data-path.ts runs before it grants access; nothing is
 * granted here). auto: passes either way, with a warning naming the reason it will take the relay; direct: fails
 * with the reason. No check for the relay, nor when a host was not reached (its own check failed already).
 */
export async function directPathCheck(
  dataPath: DataPath | undefined,
  source: ProbedHost | null,
  target: ProbedHost | null,
  signal?: AbortSignal,
): Promise<Check | null> {
  if (dataPath !== "auto" && dataPath !== "direct") return null;
  if (!source || !target) return null;
  const name = "direct path";
  try {
    const p = await probeDirectPath(source, target, { ...DIRECT_PROBE, signal });
    const at = `${p.endpoint.host.includes(":") ? `[${p.endpoint.host}]` : p.endpoint.host}:${p.endpoint.port}`;
    return {
      name,
      ok: true,
      message: `${source.row.name} reaches ${target.row.name} at ${at} (pinned key): bytes go host to host, proved with ${p.hash}`,
    };
  } catch (err) {
    signal?.throwIfAborted();
    const reason =
      err instanceof DirectPathUnavailableError
        ? err.message
        : `could not probe the direct path: ${(err as Error).message}`;
    return dataPath === "auto"
      ? { name, ok: true, warning: true, message: `will use the relay: ${reason}` }
      : {
          name,
          ok: false,
          message: `${reason}: set ${target.row.name}'s migration address to where ${source.row.name} reaches it, or use the relay`,
        };
  }
}

/** What the source's checks need: its volume, its VG (a classic volume's snapshot space) and its tools. */
async function sourceFacts(source: HostShell, plan: PlannedMigration, signal?: AbortSignal) {
  const lv = await findLv(source, plan.source.vg, plan.source.lv, signal);
  const usable = lv && lv.kind !== "snapshot" && !lv.origin && lv.kind !== "thin-pool";
  // Exactly what the migration will run on the source: LVM and dd always, thin_delta for a thin volume's
  // final delta, gzip for the compress option.
  const need = ["lvcreate", "dmsetup", "dd", ...(lv?.kind === "thin" ? ["thin_delta"] : [])];
  if (plan.options.compress) need.push("gzip");
  const [vg, tools] = await allInOrder([
    usable && lv.kind !== "thin" ? findVg(source, plan.source.vg, signal) : null,
    toolsCheck(source, need, signal),
  ]);
  return { lv, vg, tools };
}

/**
 * What the target's checks need: its VG, the target LV and thin pool if they exist (one lvs report of the VG for
 * both), and its tools (dd writes and reads back, cmp checks zero records; the hash tool is probed with the
 * source's). The report is read alongside the VG's and counts only when the VG exists.
 */
async function targetFacts(target: HostShell, plan: PlannedMigration, signal?: AbortSignal) {
  const report = target.run(lvsCommand({ vg: vgName(plan.target.vg) }), { signal }).then(
    (out) => ({ lvs: parseLvsReport(out) }),
    (err: unknown) => ({ err }),
  );
  const [vg, tools] = await allInOrder([
    findVg(target, plan.target.vg, signal),
    toolsCheck(target, ["dd", "cmp"], signal),
  ]);
  if (!vg) return { vg, existing: null, pool: null, tools };
  const got = await report;
  if ("err" in got) throw got.err;
  const named = (lv: string | null) => (lv === null ? null : (got.lvs.find((r) => r.name === lv) ?? null));
  return { vg, existing: named(plan.target.lv), pool: named(plan.target.thinPool), tools };
}

/**
 * Everything that can be known before touching anything. Each failed check says what to do about it.
 * Hosts that cannot be reached arrive as null shells with the reason in `hostProblems`.
 */
export async function runPrechecks(
  plan: PlannedMigration,
  shells: { source: HostShell | null; target: HostShell | null },
  hostProblems: Check[],
  signal?: AbortSignal,
): Promise<PrecheckResult> {
  const checks: Check[] = [...hostProblems];
  const add = (name: string, ok: boolean, message: string) => checks.push({ name, ok, message });
  let bytes = 0;

  for (const [what, value, valid] of [
    ["source VG", plan.source.vg, isValidVgName],
    ["source LV", plan.source.lv, isValidLvName],
    ["target VG", plan.target.vg, isValidVgName],
    ["target LV", plan.target.lv, isValidLvName],
  ] as const) {
    if (!valid(value)) add(`${what} name`, false, `${what} name ${JSON.stringify(value)} is not a valid LVM name`);
  }
  if (checks.some((c) => !c.ok)) return { ok: false, checks };

  // Every host's lookups run at once (each a round trip to a busy host); the checks are then told in one order.
  const { source, target } = shells;
  const [src, dst, hash, virsh] = await allInOrder([
    source && sourceFacts(source, plan, signal),
    target && targetFacts(target, plan, signal),
    source && target ? hashToolCheck(source, target, signal) : null,
    plan.vm?.controller === "libvirt" ? virshCheck([source, target], signal) : null,
  ]);

  if (source && src) {
    const { lv, vg, tools } = src;
    if (!lv) add("source volume", false, `${plan.source.vg}/${plan.source.lv} does not exist on ${source.name}`);
    else if (lv.kind === "snapshot" || lv.origin)
      add(
        "source volume",
        false,
        `${plan.source.vg}/${plan.source.lv} is itself a snapshot: migrate its origin instead`,
      );
    else if (lv.kind === "thin-pool")
      add("source volume", false, "a thin pool cannot be migrated; pick a volume in it");
    else {
      bytes = lv.sizeBytes;
      add("source volume", true, `${plan.source.vg}/${plan.source.lv}: ${bytesWithExact(lv.sizeBytes)}, ${lv.kind}`);
      if (lv.kind === "thin") {
        add("snapshot space", true, "thin volume: the snapshot shares its pool");
      } else {
        const need = plan.options.snapshotSizeBytes ?? MIN_SNAPSHOT_BYTES;
        const free = vg?.freeBytes ?? 0;
        add(
          "snapshot space",
          free >= need,
          free >= need
            ? `${bytesWithExact(free)} free in ${plan.source.vg} for the snapshot`
            : `${plan.source.vg} has ${bytesWithExact(free)} free; the snapshot needs ${bytesWithExact(need)}: free space in the VG (pvresize, vgextend) or lower snapshotSizeBytes`,
        );
      }
    }
    add("source tools", ...tools);
  }

  if (target && dst) {
    const { vg, existing, pool, tools } = dst;
    if (!vg) add("target VG", false, `volume group ${plan.target.vg} does not exist on ${target.name}`);
    else {
      if (existing) {
        if (!plan.options.reuseTarget)
          add(
            "target name",
            false,
            `${plan.target.vg}/${plan.target.lv} already exists: choose another name, or reuse it (same size, not open)`,
          );
        else if (existing.sizeBytes !== bytes)
          add(
            "target name",
            false,
            `${plan.target.vg}/${plan.target.lv} has ${bytesWithExact(existing.sizeBytes)}, the source ${bytesWithExact(bytes)}: sizes must match to reuse it`,
          );
        else if (existing.open)
          add("target name", false, `${plan.target.vg}/${plan.target.lv} is open (in use): stop its user first`);
        else add("target name", true, `reusing ${plan.target.vg}/${plan.target.lv}`);
      } else {
        add("target name", true, `${plan.target.vg}/${plan.target.lv} is free`);
        if (plan.target.thinPool) {
          const ok = pool?.kind === "thin-pool";
          add(
            "target room",
            ok,
            ok
              ? `thin pool ${plan.target.thinPool} (${pool?.dataPercent ?? 0}% used)`
              : `${plan.target.vg}/${plan.target.thinPool} is not a thin pool`,
          );
        } else {
          const ok = vg.freeBytes >= bytes;
          add(
            "target room",
            ok,
            ok
              ? `${bytesWithExact(vg.freeBytes)} free in ${plan.target.vg}`
              : `${plan.target.vg} has ${bytesWithExact(vg.freeBytes)} free; the volume needs ${bytesWithExact(bytes)}`,
          );
        }
      }
    }
    add("target tools", ...tools);
  }

  if (hash) checks.push(hash);
  if (virsh) checks.push(virsh);

  // The tool probes swallow errors: a cancel must not read as missing tools.
  signal?.throwIfAborted();
  const ok = checks.every((c) => c.ok);
  return {
    ok,
    checks,
    estimate: {
      bytes,
      fullCopySeconds: bytes ? Math.ceil(bytes / ASSUMED_BYTES_PER_SECOND) : null,
      // The outage covers the chunks written during the last pass plus stop/start; unknown before a pass ran.
      expectedOutageSeconds: null,
    },
  };
}

/**
 * Prechecks for a migration not yet created (the API's dry run): each host is reached first, and one that is
 * unreachable or untrusted becomes a failed check instead of an error, so the operator sees every problem at once.
 */
export function createPrechecksService(deps: {
  registry: Pick<HostRegistry, "health" | "row">;
  shellFor(hostId: number): HostShell;
}): (input: CreateMigration) => Promise<PrecheckResult> {
  return async (input) => {
    const problems: Check[] = [];
    const shellOrProblem = async (hostId: number, role: string): Promise<HostShell | null> => {
      try {
        const shell = deps.shellFor(hostId);
        const health = await deps.registry.health(hostId);
        if (!health.reachable) throw new Error(health.error ?? `${shell.name} is unreachable`);
        problems.push({
          name: `${role} host`,
          ok: true,
          message: `${shell.name} reachable and trusted (${health.latencyMs} ms)`,
        });
        return shell;
      } catch (err) {
        problems.push({ name: `${role} host`, ok: false, message: (err as Error).message });
        return null;
      }
    };
    const set = toDiskSet(input);
    const [source, target] = await Promise.all([
      shellOrProblem(set.sourceHostId, "source"),
      shellOrProblem(set.targetHostId, "target"),
    ]);
    const plans = diskVolumesOf(set).map((d) => ({
      source: { vg: d.sourceVg, lv: d.sourceLv },
      target: { vg: d.targetVg, lv: d.targetLv, thinPool: d.targetThinPool },
      options: set.options ?? {},
      vm: set.vm,
    }));
    const { diskBytes: _, ...result } = await runSetPrechecks(plans, { source, target }, problems);
    const probed = (shell: HostShell | null): ProbedHost | null =>
      shell && { row: deps.registry.row(shell.hostId), run: (command, o) => shell.run(command, o) };
    const direct = await directPathCheck(set.options?.dataPath, probed(source), probed(target));
    if (!direct) return result;
    return { ...result, ok: result.ok && direct.ok, checks: [...result.checks, direct] };
  };
}

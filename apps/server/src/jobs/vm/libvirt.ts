import type { VmControl } from "@blockferry/contracts";
import { dmName, shJoin, type VgName, validateDomainName } from "@blockferry/lvm";
import { allInOrder } from "../all-in-order.ts";
import type { HostShell } from "../context.ts";
import type { DiskVolumes } from "../migration-disks.ts";
import { abortableSleep } from "../phases/shared.ts";
import type { VmController } from "./controller.ts";
import { readDomain, rewriteDomain } from "./domain-xml.ts";

export type LibvirtVm = Extract<VmControl, { controller: "libvirt" }>;
/** A disk of the set as the VM controller needs it: its LV on each host. */
export type DiskMove = Pick<DiskVolumes, "sourceVg" | "sourceLv" | "targetVg" | "targetLv">;

/**
 * How often a graceful shutdown is polled: the VM is down from the moment it powers off, and every second between
 * that and our noticing is outage.
 */
const SHUTDOWN_POLL_MS = 250;

const DOMAIN = /^[A-Za-z0-9_.+-]{1,200}$/;
export const virsh = (...args: string[]) => shJoin(["virsh", "--quiet", ...args]);

/** The paths a domain's block disk may name an LV by: `/dev/VG/LV` and its device-mapper node. */
export const lvPaths = (vg: string, lv: string) => [`/dev/${vg}/${lv}`, `/dev/mapper/${dmName(vg as VgName, lv)}`];

/** virsh's answer for a domain that is not defined on the host (domstate, domuuid, dumpxml). */
export const isNoDomain = (err: unknown) =>
  /failed to get domain|Domain not found/i.test(String((err as { stderrTail?: unknown }).stderrTail ?? ""));

/**
 * The domain's XML for the target: every disk of the set pointed at its target LV (whichever path form the source
 * used), and the interfaces `networkMap` names moved to the mapped network or bridge.
 */
export function targetDomainXml(xml: string, disks: readonly DiskMove[], networkMap?: Record<string, string>): string {
  const used = new Set(readDomain(xml).disks.map((d) => d.source));
  const moves = new Map<string, string>();
  for (const d of disks) {
    const from = lvPaths(d.sourceVg, d.sourceLv).find((p) => used.has(p));
    if (!from) throw new Error(`the domain has no disk backed by ${d.sourceVg}/${d.sourceLv}`);
    moves.set(from, `/dev/${d.targetVg}/${d.targetLv}`);
  }
  return rewriteDomain(xml, { disks: moves, networks: networkMap });
}

/**
 * libvirt: graceful shutdown with a timeout then destroy; the domain is defined on the target (before the stop, so
 * a target libvirt that refuses it costs no outage) with every disk of the set rewritten, and started there unless
 * `startTarget: false`. The source keeps its definition, shut off, unless `undefineSource`.
 */
export function libvirtController(
  vm: LibvirtVm,
  source: HostShell,
  target: HostShell,
  disks: readonly DiskMove[],
): VmController {
  if (!DOMAIN.test(vm.domain)) throw new Error(`invalid libvirt domain name ${JSON.stringify(vm.domain)}`);
  // virsh reads a leading '-' as an option: refused here too, not only at the API (a job stored before).
  const domain = validateDomainName(vm.domain);
  const state = async (shell: HostShell, signal: AbortSignal) =>
    (await shell.run(virsh("domstate", domain), { signal })).trim();
  /** The domain's UUID on that host; null when it is not defined there. */
  const uuidOn = async (shell: HostShell, signal: AbortSignal) => {
    try {
      return (await shell.run(virsh("domuuid", domain), { signal })).trim();
    } catch (err) {
      if (isNoDomain(err)) return null;
      throw err;
    }
  };
  const define = async (signal: AbortSignal) => {
    // The source's definition and what the target has under the name: independent, asked at once.
    // When both fail, the source's error is the one told, as when they ran one after the other.
    const [xml, there] = await allInOrder([
      source.run(virsh("dumpxml", "--inactive", domain), { signal }),
      uuidOn(target, signal),
    ]);
    const ours = readDomain(xml).uuid;
    // Same UUID: the definition this job (or a crash before its answer) put there. Another: not ours to replace.
    if (there !== null && there !== ours)
      throw new Error(`${target.name} has another domain named ${domain} (UUID ${there}): not replaced`);
    await target.run(virsh("define", "/dev/stdin"), {
      stdin: targetDomainXml(xml, disks, vm.networkMap),
      signal,
    });
  };
  return {
    definesOnTarget: true,
    async stopSource(signal) {
      if ((await state(source, signal)) === "shut off") return;
      await source.run(virsh("shutdown", domain), { signal });
      const deadline = Date.now() + (vm.shutdownTimeoutSeconds ?? 120) * 1000;
      while (Date.now() < deadline) {
        if ((await state(source, signal)) === "shut off") return;
        await abortableSleep(SHUTDOWN_POLL_MS, signal);
      }
      await source.run(virsh("destroy", domain), { signal });
    },
    defineTarget: define,
    async startTarget(signal) {
      // Again: a job resumed here defines it anew from the source's unchanged definition (idempotent), unless an
      // earlier run got as far as undefining the source: the target then has the definition already.
      try {
        await define(signal);
      } catch (err) {
        if (!(vm.undefineSource && isNoDomain(err) && (await uuidOn(target, signal)) !== null)) throw err;
      }
      if (vm.startTarget !== false) await target.run(virsh("start", domain), { signal });
      if (vm.undefineSource) await source.run(virsh("undefine", domain), { signal });
    },
    async undefineTarget(signal) {
      // The three questions at once (each a virsh on a busy host), their answers weighed in this order.
      const [asked, ourUuid, stateNow] = await Promise.allSettled([
        uuidOn(target, signal),
        uuidOn(source, signal),
        state(target, signal),
      ]);
      if (asked.status === "rejected") throw asked.reason;
      const there = asked.value;
      if (there === null) return false;
      const ours = ourUuid.status === "fulfilled" ? ourUuid.value : null;
      if (ours !== null && there !== ours)
        throw new Error(`${target.name} has another domain named ${domain} (UUID ${there}): left alone`);
      if (stateNow.status === "rejected") throw stateNow.reason;
      const now = stateNow.value;
      if (now !== "shut off") throw new Error(`domain ${domain} is ${now} on ${target.name}: not undefined`);
      await target.run(virsh("undefine", domain), { signal });
      return true;
    },
    async restartSource(signal) {
      if ((await state(source, signal)) !== "running") await source.run(virsh("start", domain), { signal });
    },
    async runningOn(host, signal) {
      try {
        return (await state(host === "source" ? source : target, signal)) === "running";
      } catch (err) {
        // Not defined there (the target before its first start): not running there either.
        if (isNoDomain(err)) return false;
        throw err;
      }
    },
  };
}

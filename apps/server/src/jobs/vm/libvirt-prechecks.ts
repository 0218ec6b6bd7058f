import type { MissingNetwork, PrecheckResult } from "@blockferry/contracts";
import { isRemovableDrive, lvsCommand, parseLvsReport, shJoin, validateDomainName } from "@blockferry/lvm";
import { messageOf } from "../../errors.ts";
import { allInOrder } from "../all-in-order.ts";
import type { HostShell } from "../context.ts";
import { type DomainDevices, type DomainDisk, readDomain } from "./domain-xml.ts";
import { type DiskMove, isNoDomain, type LibvirtVm, lvPaths, virsh } from "./libvirt.ts";

type Check = PrecheckResult["checks"][number];

/** What the target offers an interface: its libvirt networks, and its host interfaces (bridges apart). */
export interface TargetNetworks {
  networks: ReadonlySet<string>;
  bridges: ReadonlySet<string>;
  links: ReadonlySet<string>;
}

/** Host interfaces, one `bridge PATH` or `link PATH` line each (/sys/class/net/NAME): a fixed command, no values. */
const HOST_LINKS_COMMAND =
  'for d in /sys/class/net/*; do [ -e "$d" ] || continue; if [ -d "$d/bridge" ]; then echo "bridge $d"; else echo "link $d"; fi; done';

const isNoNetworkDriver = (err: unknown) =>
  /not supported|no connection driver|network driver/i.test(String((err as { stderrTail?: unknown }).stderrTail ?? ""));

const tail = (err: unknown) => {
  const stderr = String((err as { stderrTail?: unknown }).stderrTail ?? "").trim();
  return (stderr || messageOf(err)).split("\n").slice(-2).join(" | ");
};

/**
 * The domain's disks against the set: every disk with a source must be an LV of the set (a disk left behind, a file
 * or a network disk would leave the VM incomplete on the target), and every disk of the set a disk of the domain.
 * `lvOfPath` names the source host's LV for a device path (null: not an LV). Pure, for the tests.
 */
export function diskSetCheck(
  domain: string,
  devices: DomainDevices,
  disks: readonly DiskMove[],
  lvOfPath: (path: string) => string | null,
): Check {
  const name = "VM disks";
  const inSet = new Map(disks.flatMap((d) => lvPaths(d.sourceVg, d.sourceLv).map((p) => [p, d] as const)));
  const problems: string[] = [];
  const covered = new Set<DiskMove>();
  for (const disk of devices.disks) {
    if (disk.source === null) continue; // an empty CD-ROM drive: nothing to move
    if (isRemovableDrive(disk.device)) continue; // media stay where they are: mediaCheck asks the target for them
    const what = `${disk.target} (${disk.device})`;
    if (disk.type !== "block") {
      problems.push(
        `${what} is a ${disk.type} disk (${disk.source}): only LV-backed disks can move; detach it or make it an LV`,
      );
      continue;
    }
    const ours = inSet.get(disk.source);
    if (ours) {
      covered.add(ours);
      continue;
    }
    const lv = lvOfPath(disk.source);
    problems.push(
      lv
        ? `${what} is the LV ${lv}, which is not in this migration: add it, or the VM would start without it`
        : `${what} is ${disk.source}, which is not an LV: only LV-backed disks can move`,
    );
  }
  for (const d of disks)
    if (!covered.has(d)) problems.push(`${d.sourceVg}/${d.sourceLv} is not a disk of domain ${domain}`);
  if (problems.length) return { name, ok: false, message: problems.join("; ") };
  const n = disks.length;
  return { name, ok: true, message: `the domain's ${n} disk${n === 1 ? "" : "s"} are all in this migration, all LVs` };
}

/** The domain's inserted CD-ROM and floppy media (file or device path), which stay where they are. */
export const removableMedia = (devices: DomainDevices) =>
  devices.disks.filter((d) => isRemovableDrive(d.device) && d.source !== null && d.type !== "network");

/**
 * The inserted media against the target: the VM would not start there without its image at the same path. `missing`
 * are the media paths the target lacks. Pure, for the tests.
 */
export function mediaCheck(media: readonly DomainDisk[], missing: ReadonlySet<string>, targetName: string): Check {
  const name = "VM media";
  const absent = media.filter((m) => missing.has(m.source as string));
  if (absent.length)
    return {
      name,
      ok: false,
      message: absent
        .map(
          (m) =>
            `${m.target} (${m.device}): ${m.source} is not on ${targetName}: copy it there at the same path, or eject it`,
        )
        .join("; "),
    };
  return {
    name,
    ok: true,
    message: `${targetName} has the inserted media at the same paths: ${media.map((m) => m.source).join(", ")}`,
  };
}

/**
 * Interfaces whose network or bridge the target lacks, after `networkMap`; a failure lists each missing source name
 * once in `missingNetworks`, with what the target offers of its kind. Pure, for the tests.
 */
export function networksCheck(
  devices: DomainDevices,
  networkMap: Readonly<Record<string, string>>,
  target: TargetNetworks,
  targetName: string,
): Check {
  const name = "VM networks";
  const problems: string[] = [];
  const missing = new Map<string, MissingNetwork>();
  const mapped: string[] = [];
  for (const iface of devices.interfaces) {
    if (iface.source === null) continue; // user-mode and other interfaces that name nothing of the host
    const to = Object.hasOwn(networkMap, iface.source) ? (networkMap[iface.source] as string) : iface.source;
    const [kind, offered] =
      iface.type === "network"
        ? (["network", target.networks] as const)
        : iface.type === "bridge"
          ? (["bridge", target.bridges] as const)
          : (["host interface", new Set([...target.links, ...target.bridges])] as const);
    const label = `interface ${iface.mac ?? "?"} (${iface.type} ${iface.source}${to === iface.source ? "" : ` -> ${to}`})`;
    if (!offered.has(to)) {
      problems.push(
        `${label}: ${targetName} has no ${kind} ${to}; create it there or map it (vm.networkMap {"${iface.source}": "NAME"})`,
      );
      if (!missing.has(iface.source))
        missing.set(iface.source, { source: iface.source, kind, wanted: to, offered: [...offered].sort() });
    } else if (to !== iface.source) mapped.push(`${iface.source} -> ${to}`);
  }
  if (problems.length) return { name, ok: false, message: problems.join("; "), missingNetworks: [...missing.values()] };
  const count = devices.interfaces.length;
  return {
    name,
    ok: true,
    message: count
      ? `${targetName} has what the ${count} interface${count === 1 ? "" : "s"} attach to${mapped.length ? ` (mapped: ${mapped.join(", ")})` : ""}`
      : "the domain has no network interface",
  };
}

/** The media paths the target has no readable file or device at. One command for all, paths quoted. */
async function missingOn(target: HostShell, media: readonly DomainDisk[], signal?: AbortSignal): Promise<Set<string>> {
  const paths = media.map((m) => m.source as string);
  const script = 'for p in "$@"; do [ -r "$p" ] || printf "%s\\0" "$p"; done';
  const out = await target.run(shJoin(["sh", "-c", script, "sh", ...paths]), { signal });
  return new Set(out.split("\0").filter(Boolean));
}

async function targetNetworks(target: HostShell, signal?: AbortSignal): Promise<TargetNetworks> {
  const [nets, links] = await Promise.all([
    // A libvirtd without its network driver has no networks to offer (virsh says "not supported").
    target.run(virsh("net-list", "--all", "--name"), { signal }).catch((err: unknown) => {
      signal?.throwIfAborted();
      if (isNoNetworkDriver(err)) return "";
      throw err;
    }),
    target.run(HOST_LINKS_COMMAND, { signal }),
  ]);
  const lines = (text: string) =>
    text
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  const of = (kind: string) =>
    new Set(
      lines(links)
        .filter((l) => l.startsWith(`${kind} `))
        .map((l) => l.slice(kind.length + 1).replace(/^\/sys\/class\/net\//, "")),
    );
  return { networks: new Set(lines(nets)), bridges: of("bridge"), links: of("link") };
}

/**
 * libvirt's prechecks for a VM's disk set: the domain on the source (all its disks LVs of the set), libvirt
 * answering on the target with the domain's name and UUID free there, and what its interfaces attach to present
 * there (or mapped). A host given as null (unreachable, or a retry whose target is ours) is not asked.
 */
export async function libvirtPrechecks(
  vm: LibvirtVm,
  disks: readonly DiskMove[],
  shells: { source: HostShell | null; target: HostShell | null },
  signal?: AbortSignal,
): Promise<Check[]> {
  const domain = validateDomainName(vm.domain);
  const { source, target } = shells;
  const lines = (text: string) => text.split("\n").map((l) => l.trim());
  // Both hosts at once, and on each its independent commands: only the target's media and networks wait for the
  // source's domain. Each side's failure stays its own check.
  const [src, taken] = await Promise.all([
    source &&
      allInOrder([source.run(virsh("dumpxml", "--inactive", domain), { signal }), source.run(lvsCommand(), { signal })])
        .then(([xml, lvs]) => ({ devices: readDomain(xml), lvs: parseLvsReport(lvs) }))
        .catch((err: unknown) => ({ err })),
    target &&
      allInOrder([
        target.run(virsh("list", "--all", "--name"), { signal }),
        target.run(virsh("list", "--all", "--uuid"), { signal }),
      ])
        .then(([names, uuids]) => ({ names: lines(names), uuids: lines(uuids) }))
        .catch((err: unknown) => ({ err })),
  ]);
  signal?.throwIfAborted();
  const checks: Check[] = [];
  let devices: DomainDevices | null = null;
  if (source && src) {
    if ("err" in src)
      checks.push({
        name: "VM disks",
        ok: false,
        message: isNoDomain(src.err)
          ? `domain ${domain} is not defined on ${source.name}`
          : `could not read domain ${domain} on ${source.name}: ${tail(src.err)}`,
      });
    else {
      devices = src.devices;
      const byPath = new Map(src.lvs.flatMap((lv) => lvPaths(lv.vg, lv.name).map((p) => [p, `${lv.vg}/${lv.name}`])));
      checks.push(diskSetCheck(domain, devices, disks, (p) => byPath.get(p) ?? null));
    }
  }
  if (target && taken) {
    const name = "libvirt on the target";
    try {
      if ("err" in taken) throw taken.err;
      const { names, uuids } = taken;
      const uuid = devices?.uuid;
      if (names.includes(domain))
        checks.push({
          name,
          ok: false,
          message: `${target.name} has a domain named ${domain} already: undefine it there, or rename the VM`,
        });
      else if (uuid && uuids.includes(uuid))
        checks.push({
          name,
          ok: false,
          message: `${target.name} has a domain with this VM's UUID ${uuid} (under another name): undefine it there`,
        });
      else
        checks.push({ name, ok: true, message: `libvirt answers on ${target.name}; the name ${domain} is free there` });
      const media = devices ? removableMedia(devices) : [];
      const wantsNetworks = devices?.interfaces.some((i) => i.source !== null);
      const [missing, offered] = await allInOrder([
        media.length ? missingOn(target, media, signal) : null,
        wantsNetworks ? targetNetworks(target, signal) : null,
      ]);
      if (missing) checks.push(mediaCheck(media, missing, target.name));
      if (devices && offered) checks.push(networksCheck(devices, vm.networkMap ?? {}, offered, target.name));
    } catch (err) {
      signal?.throwIfAborted();
      checks.push({
        name,
        ok: false,
        message: `libvirt does not answer on ${target.name} (${tail(err)}): start libvirtd there`,
      });
    }
  }
  return checks;
}

// What a hypervisor has: VGs, LVs, snapshots, thin pools, libvirt domains and tool versions, in at most two
// round trips (one sectioned script, then one for every domain's disks), using only packages/lvm templates.
import { randomBytes } from "node:crypto";
import type {
  Inventory,
  InventoryDomain,
  InventoryLv,
  InventorySnapshot,
  InventoryThinPool,
} from "@blockferry/contracts";
import {
  type DmTargetLine,
  dmName,
  dmsetupStatusCommand,
  lvsCommand,
  migratedAwayJobId,
  parseDmsetupAll,
  parseDomblklist,
  parseLvsReport,
  parseSections,
  parseSnapshotStatus,
  parseThinPoolStatus,
  parseToolVersion,
  parseVgsReport,
  parseVirshList,
  type SectionResult,
  sectionedCommand,
  type VgName,
  vgsCommand,
  virshDomblklistCommand,
  virshDomstateCommand,
  virshListCommand,
} from "@blockferry/lvm";
import { UpstreamError } from "../../errors.ts";
import { classifyDomainDisk, domainRefusal } from "./domain-disks.ts";

export type { Inventory };

/** Runs one command on the host and returns its output (a non-zero exit of the whole script rejects). */
export type InventoryExec = (command: string) => Promise<{ stdout: string; stderr: string; code: number }>;

const TOOL_SECTIONS = {
  lvm: "lvm version",
  dmsetup: "dmsetup --version",
  thinDelta: "thin_delta --version",
  sha256sum: "sha256sum --version",
  b2sum: "b2sum --version",
  virsh: "virsh --version",
} as const;

const nonce = () => randomBytes(12).toString("hex");

/** The host's answer to the inventory was unusable (a failed lvs/vgs, a missing section): a hypervisor failure. */
export class InventoryError extends UpstreamError {
  constructor(message: string) {
    super("INVENTORY_FAILED", message);
  }
}

function need(sections: Map<string, SectionResult>, key: string): SectionResult {
  const s = sections.get(key);
  if (!s) throw new InventoryError(`inventory section ${key} missing from the host's answer`);
  return s;
}

/** The newest job a source LV was migrated away by (an LV moved away, back, and away again carries two tags). */
function migratedAwayOf(tags: readonly string[]): { jobId: number } | null {
  const ids = tags.map(migratedAwayJobId).filter((id): id is number => id !== null);
  return ids.length ? { jobId: Math.max(...ids) } : null;
}

export async function readInventory(exec: InventoryExec): Promise<Inventory> {
  const n1 = nonce();
  const script = sectionedCommand(n1, [
    { key: "vgs", command: vgsCommand() },
    { key: "lvs", command: lvsCommand() },
    { key: "dmstatus", command: dmsetupStatusCommand() },
    ...Object.entries(TOOL_SECTIONS).map(([key, command]) => ({
      key: `v.${key.toLowerCase()}`,
      command: `command -v ${command.split(" ")[0]} >/dev/null && ${command}`,
    })),
    { key: "domains", command: `command -v virsh >/dev/null && ${virshListCommand()}` },
  ]);
  const first = parseSections((await exec(script)).stdout, n1);
  const warnings: string[] = [];

  const vgsOut = need(first, "vgs");
  const lvsOut = need(first, "lvs");
  for (const [what, s] of [
    ["vgs", vgsOut],
    ["lvs", lvsOut],
  ] as const)
    if (s.exitCode !== 0) throw new InventoryError(`${what} failed with ${s.exitCode}: ${s.stderr.trim().slice(-500)}`);
  const vgRecords = parseVgsReport(vgsOut.stdout);
  const lvRecords = parseLvsReport(lvsOut.stdout);

  const dm = need(first, "dmstatus");
  let status = new Map<string, DmTargetLine[]>();
  if (dm.exitCode === 0) status = parseDmsetupAll(dm.stdout, "dmsetup status");
  else warnings.push(`dmsetup status failed (${dm.exitCode}): ${dm.stderr.trim().slice(-300)}`);

  const tools = Object.fromEntries(
    Object.keys(TOOL_SECTIONS).map((key) => {
      const s = need(first, `v.${key.toLowerCase()}`);
      return [key, s.exitCode === 0 ? parseToolVersion(s.stdout || s.stderr) : null];
    }),
  ) as Inventory["tools"];

  const lvs: InventoryLv[] = lvRecords.map((r) => ({
    vg: r.vg,
    name: r.name,
    uuid: r.uuid,
    path: `/dev/${r.vg}/${r.name}`,
    dmName: dmName(r.vg as VgName, r.name),
    kind: r.kind,
    segtype: r.segtype,
    attr: r.attr,
    sizeBytes: r.sizeBytes,
    active: r.active,
    open: r.open,
    tags: r.tags,
    origin: r.origin,
    pool: r.pool,
    thinId: r.thinId,
    chunkSizeBytes: r.chunkSizeBytes,
    migratedAway: migratedAwayOf(r.tags),
  }));

  const snapshots: InventorySnapshot[] = [];
  const thinPools: InventoryThinPool[] = [];
  for (const r of lvRecords) {
    const line = status.get(dmName(r.vg as VgName, r.name))?.[0];
    const lineText = line ? `${line.start} ${line.length} ${line.target} ${line.args.join(" ")}` : null;
    if (r.kind === "snapshot") {
      const st =
        lineText && (line?.target === "snapshot" || line?.target === "snapshot-merge")
          ? parseSnapshotStatus(lineText)
          : null;
      snapshots.push({
        vg: r.vg,
        name: r.name,
        origin: r.origin ?? "",
        type: "cow",
        sizeBytes: r.sizeBytes,
        chunkSizeBytes: r.chunkSizeBytes,
        fillPercent: r.snapPercent,
        state: st ? st.state : r.invalidSnapshot ? "invalid" : "inactive",
        allocatedSectors: st?.state === "valid" ? st.allocatedSectors : null,
        totalSectors: st?.state === "valid" ? st.totalSectors : null,
        metadataSectors: st?.state === "valid" ? st.metadataSectors : null,
        tags: r.tags,
      });
    } else if (r.kind === "thin" && r.origin !== null) {
      snapshots.push({
        vg: r.vg,
        name: r.name,
        origin: r.origin,
        type: "thin",
        sizeBytes: r.sizeBytes,
        chunkSizeBytes: null,
        fillPercent: null,
        state: "valid",
        allocatedSectors: null,
        totalSectors: null,
        metadataSectors: null,
        tags: r.tags,
      });
    } else if (r.kind === "thin-pool") {
      // The pool's status lives on its `-tpool` device when thin LVs exist, on the pool device itself otherwise.
      const tp = [`${dmName(r.vg as VgName, r.name)}-tpool`, dmName(r.vg as VgName, r.name)]
        .map((n) => status.get(n)?.[0])
        .find((t) => t?.target === "thin-pool");
      const st = tp ? parseThinPoolStatus(`${tp.start} ${tp.length} ${tp.target} ${tp.args.join(" ")}`) : null;
      thinPools.push({
        vg: r.vg,
        name: r.name,
        sizeBytes: r.sizeBytes,
        chunkSizeBytes: r.chunkSizeBytes,
        dataPercent: r.dataPercent,
        metadataPercent: r.metadataPercent,
        transactionId: st?.state === "ok" ? st.transactionId : null,
        heldMetadataRoot: st?.state === "ok" ? st.heldMetadataRoot : null,
        mode: st ? (st.state === "ok" ? st.mode : st.state) : null,
        needsCheck: st?.state === "ok" ? st.needsCheck : false,
        tags: r.tags,
      });
    }
  }

  let domains: InventoryDomain[] | null = null;
  const dom = need(first, "domains");
  if (tools.virsh !== null) {
    if (dom.exitCode !== 0) warnings.push(`virsh list failed (${dom.exitCode}): ${dom.stderr.trim().slice(-300)}`);
    const names = dom.exitCode === 0 ? parseVirshList(dom.stdout) : [];
    domains = await readDomainDisks(exec, names, lvs);
  }

  return {
    collectedAt: new Date().toISOString(),
    tools,
    vgs: vgRecords.map((v) => ({
      name: v.name,
      uuid: v.uuid,
      sizeBytes: v.sizeBytes,
      freeBytes: v.freeBytes,
      extentSizeBytes: v.extentSizeBytes,
      extentCount: v.extentCount,
      freeExtentCount: v.freeExtentCount,
      pvCount: v.pvCount,
      lvCount: v.lvCount,
      tags: v.tags,
    })),
    lvs,
    snapshots,
    thinPools,
    domains,
    warnings,
  };
}

/** Every domain's disks (each classified against the host's LVs) and run state, in one round trip. */
async function readDomainDisks(
  exec: InventoryExec,
  names: string[],
  lvs: readonly InventoryLv[],
): Promise<InventoryDomain[]> {
  if (names.length === 0) return [];
  const n = nonce();
  const valid = names.map((name, i) => {
    try {
      return { name, i, disks: virshDomblklistCommand(name), state: virshDomstateCommand(name), error: null };
    } catch (err) {
      return { name, i, disks: null, state: null, error: (err as Error).message };
    }
  });
  const sections = valid.flatMap((d) =>
    d.disks !== null && d.state !== null
      ? [
          { key: `d${d.i}`, command: d.disks },
          { key: `s${d.i}`, command: d.state },
        ]
      : [],
  );
  const out = parseSections((await exec(sectionedCommand(n, sections))).stdout, n);
  return valid.map((d): InventoryDomain => {
    const failed = (error: string): InventoryDomain => ({
      name: d.name,
      state: null,
      disks: [],
      error,
      refusal: domainRefusal([], error),
    });
    if (d.disks === null) return failed(d.error ?? "invalid name");
    const s = out.get(`d${d.i}`);
    if (s?.exitCode !== 0) return failed(`virsh domblklist failed: ${s?.stderr.trim().slice(-300) ?? "no answer"}`);
    const st = out.get(`s${d.i}`);
    const state = st?.exitCode === 0 ? st.stdout.trim().split("\n")[0]?.trim() || null : null;
    const disks = parseDomblklist(s.stdout).map((disk) => classifyDomainDisk(disk, lvs));
    return { name: d.name, state, disks, error: null, refusal: domainRefusal(disks, null) };
  });
}

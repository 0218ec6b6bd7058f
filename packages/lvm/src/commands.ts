// Command templates: validated values in, ONE command string out. Every argument is quoted, even the
// constant ones, so no template depends on a value being "harmless".
import { OWNER_ENV } from "./device-holders.ts";
import { InvalidValueError } from "./errors.ts";
import { BLOCKFERRY_TAG, type LvmTag, type LvName, type VgName } from "./names.ts";
import { type ByteCount, uintText } from "./numbers.ts";
import { dmName, type RemotePath } from "./paths.ts";
import { shJoin, shQuote } from "./quote.ts";

/** LVM warns on stderr about inherited descriptors (sshd leaves some open); the warning is noise here. */
const LVM_ENV = "LVM_SUPPRESS_FD_WARNINGS=1";
const REPORT_OPTS = ["--reportformat", "json", "--units", "b", "--nosuffix"];

export const LV_REPORT_FIELDS = [
  "lv_name",
  "vg_name",
  "lv_uuid",
  "lv_attr",
  "lv_size",
  "segtype",
  "origin",
  "pool_lv",
  "lv_tags",
  "snap_percent",
  "data_percent",
  "metadata_percent",
  "chunk_size",
  "thin_id",
  "lv_kernel_major",
  "lv_kernel_minor",
] as const;
export const VG_REPORT_FIELDS = [
  "vg_name",
  "vg_uuid",
  "vg_attr",
  "vg_size",
  "vg_free",
  "vg_extent_size",
  "vg_extent_count",
  "vg_free_count",
  "pv_count",
  "lv_count",
  "vg_tags",
] as const;
export const PV_REPORT_FIELDS = ["pv_name", "vg_name", "pv_uuid", "pv_size", "pv_free", "dev_size"] as const;

function lvm(tool: string, args: readonly string[]): string {
  return `${LVM_ENV} ${shJoin([tool, ...args])}`;
}

/** Select what a report covers: everything, one VG, or LVs carrying a tag (`@tag`). */
export type ReportScope = { vg?: VgName; lv?: LvName; tag?: LvmTag };
function scopeArgs(scope: ReportScope): string[] {
  if (scope.tag !== undefined) return [`@${scope.tag}`];
  if (scope.vg !== undefined && scope.lv !== undefined) return [`${scope.vg}/${scope.lv}`];
  if (scope.vg !== undefined) return [scope.vg];
  return [];
}

export function lvsCommand(scope: ReportScope = {}): string {
  return lvm("lvs", [...REPORT_OPTS, "-o", LV_REPORT_FIELDS.join(","), ...scopeArgs(scope)]);
}
export function vgsCommand(vg?: VgName): string {
  return lvm("vgs", [...REPORT_OPTS, "-o", VG_REPORT_FIELDS.join(","), ...(vg ? [vg] : [])]);
}
export function pvsCommand(): string {
  return lvm("pvs", [...REPORT_OPTS, "-o", PV_REPORT_FIELDS.join(",")]);
}

function bytesArg(kind: string, value: ByteCount, multipleOf = 512n): string {
  return `${uintText(kind, value, { min: 1n, multipleOf })}b`;
}
function tagArgs(tags: readonly LvmTag[]): string[] {
  const all = [BLOCKFERRY_TAG, ...tags.filter((t) => t !== BLOCKFERRY_TAG)];
  return all.flatMap((t) => ["--addtag", t]);
}

/** Classic (COW) snapshot of VG/ORIGIN. chunk size: power of two, 4 KiB..512 KiB (lvcreate(8)). */
export function lvcreateSnapshotCommand(o: {
  vg: VgName;
  origin: LvName;
  name: LvName;
  sizeBytes: ByteCount;
  chunkSizeBytes?: ByteCount;
  tags?: readonly LvmTag[];
}): string {
  const args = ["--snapshot", "--name", o.name, "--size", bytesArg("snapshot size", o.sizeBytes)];
  if (o.chunkSizeBytes !== undefined) {
    const chunk = BigInt(uintText("chunk size", o.chunkSizeBytes, { min: 4096n, max: 524288n }));
    if ((chunk & (chunk - 1n)) !== 0n)
      throw new InvalidValueError("chunk size", "misaligned", String(o.chunkSizeBytes), "must be a power of two");
    args.push("--chunksize", `${chunk}b`);
  }
  return lvm("lvcreate", [...args, ...tagArgs(o.tags ?? []), `${o.vg}/${o.origin}`]);
}

/** Thin snapshot of a thin LV (no size: it shares the pool). */
export function lvcreateThinSnapshotCommand(o: {
  vg: VgName;
  origin: LvName;
  name: LvName;
  tags?: readonly LvmTag[];
}): string {
  return lvm("lvcreate", ["--snapshot", "--name", o.name, ...tagArgs(o.tags ?? []), `${o.vg}/${o.origin}`]);
}

/** A new LV of `type` in `o.vg` with our tags; `--yes` answers the wipe-signature prompt. */
function lvcreateNew(type: string, o: { vg: VgName; name: LvName; tags?: readonly LvmTag[] }, sizing: string[]) {
  return lvm("lvcreate", ["--yes", "--type", type, "--name", o.name, ...sizing, ...tagArgs(o.tags ?? []), o.vg]);
}

/** Plain linear LV (a migration target). */
export function lvcreateLinearCommand(o: {
  vg: VgName;
  name: LvName;
  sizeBytes: ByteCount;
  tags?: readonly LvmTag[];
}): string {
  return lvcreateNew("linear", o, ["--size", bytesArg("LV size", o.sizeBytes)]);
}

export function lvcreateThinPoolCommand(o: {
  vg: VgName;
  name: LvName;
  sizeBytes: ByteCount;
  chunkSizeBytes?: ByteCount;
  tags?: readonly LvmTag[];
}): string {
  const sizing = ["--size", bytesArg("pool size", o.sizeBytes)];
  if (o.chunkSizeBytes !== undefined) sizing.push("--chunksize", bytesArg("pool chunk size", o.chunkSizeBytes, 65536n));
  return lvcreateNew("thin-pool", o, sizing);
}

export function lvcreateThinCommand(o: {
  vg: VgName;
  pool: LvName;
  name: LvName;
  virtualSizeBytes: ByteCount;
  tags?: readonly LvmTag[];
}): string {
  return lvcreateNew("thin", o, ["--virtualsize", bytesArg("virtual size", o.virtualSizeBytes), "--thinpool", o.pool]);
}

export function lvremoveCommand(o: { vg: VgName; lv: LvName }): string {
  return lvm("lvremove", ["--yes", `${o.vg}/${o.lv}`]);
}

/** Grow VG/LV to an absolute size in bytes. */
export function lvextendCommand(o: { vg: VgName; lv: LvName; sizeBytes: ByteCount }): string {
  return lvm("lvextend", ["--size", bytesArg("LV size", o.sizeBytes), `${o.vg}/${o.lv}`]);
}

export function lvchangeCommand(o: {
  vg: VgName;
  lv: LvName;
  activate?: boolean;
  ignoreActivationSkip?: boolean;
  permission?: "r" | "rw";
  addTags?: readonly LvmTag[];
  delTags?: readonly LvmTag[];
}): string {
  const args: string[] = [];
  if (o.activate !== undefined) args.push("--activate", o.activate ? "y" : "n");
  if (o.ignoreActivationSkip) args.push("--ignoreactivationskip");
  if (o.permission) args.push("--permission", o.permission);
  for (const t of o.addTags ?? []) args.push("--addtag", t);
  for (const t of o.delTags ?? []) args.push("--deltag", t);
  if (args.length === 0) throw new InvalidValueError("lvchange options", "empty", "", "nothing to change");
  return lvm("lvchange", [...args, `${o.vg}/${o.lv}`]);
}

/** A device-mapper name as built by dmName (or read from `dmsetup info`): same character set plus nothing else. */
const DM_NAME = /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/;
export function validateDmName(value: string): string {
  if (!DM_NAME.test(value) || value === "." || value === "..")
    throw new InvalidValueError(
      "device-mapper name",
      "bad-character",
      value,
      "only A-Z a-z 0-9 + _ . - (no leading '-'), at most 127",
    );
  return value;
}

export function dmsetupStatusCommand(name?: string): string {
  return shJoin(["dmsetup", "status", ...(name === undefined ? [] : [validateDmName(name)])]);
}
export function dmsetupTableCommand(name?: string): string {
  return shJoin(["dmsetup", "table", ...(name === undefined ? [] : [validateDmName(name)])]);
}
export const DMSETUP_INFO_FIELDS = ["name", "major", "minor", "uuid", "open", "attr"] as const;
export function dmsetupInfoCommand(name?: string): string {
  return shJoin([
    "dmsetup",
    "info",
    "-c",
    "--noheadings",
    "--separator",
    "|",
    "-o",
    DMSETUP_INFO_FIELDS.join(","),
    ...(name === undefined ? [] : [validateDmName(name)]),
  ]);
}

/** `dmsetup message VG-POOL-tpool 0 reserve_metadata_snap|release_metadata_snap` (release on every path!). */
export function thinPoolMetadataSnapCommand(vg: VgName, pool: LvName, action: "reserve" | "release"): string {
  return shJoin(["dmsetup", "message", `${dmName(vg, pool)}-tpool`, "0", `${action}_metadata_snap`]);
}

/** `thin_delta -m --snap1 A --snap2 B /dev/mapper/VG-POOL_tmeta` (needs a reserved metadata snapshot). */
export function thinDeltaCommand(o: { vg: VgName; pool: LvName; snap1: number; snap2: number }): string {
  const id = (k: string, v: number) => uintText(k, v, { max: 0xffffffn });
  return shJoin([
    "thin_delta",
    "-m",
    "--snap1",
    id("thin id", o.snap1),
    "--snap2",
    id("thin id", o.snap2),
    `/dev/mapper/${dmName(o.vg, o.pool)}_tmeta`,
  ]);
}

export function blockdevSizeCommand(path: RemotePath): string {
  return shJoin(["blockdev", "--getsize64", path]);
}
export function blockdevFlushCommand(path: RemotePath): string {
  return shJoin(["blockdev", "--flushbufs", path]);
}
/** Opens a device for writing and writes nothing: it exists and takes a writer (not read-only, not gone). */
export function openForWriteCommand(path: RemotePath): string {
  return shJoin(["dd", "if=/dev/null", `of=${path}`, "conv=notrunc,nocreat", "count=0", "status=none"]);
}

/**
 * Which of `tools` the host lacks: one `missing NAME` line each, then `checked` (its absence means the check
 * itself did not run). Names are plain program names, checked here.
 */
export function toolsPresentCommand(tools: readonly string[]): string {
  for (const t of tools)
    if (!/^[a-z0-9][a-z0-9_.+-]*$/.test(t))
      throw new InvalidValueError("tool name", "bad-character", t, "a program name");
  const list = tools.map((t) => shQuote(t)).join(" ");
  return `for t in ${list}; do command -v "$t" >/dev/null 2>&1 || echo "missing $t"; done; echo checked`;
}

/** libvirt: every domain name, one per line (ends with an empty line). */
export function virshListCommand(): string {
  return shJoin(["virsh", "list", "--all", "--name"]);
}
export function validateDomainName(value: string): string {
  // libvirt allows almost anything; we only refuse what cannot be a single line or a shell word.
  if (value.length === 0 || value.length > 255 || /[\0\n\r]/.test(value))
    throw new InvalidValueError(
      "libvirt domain name",
      "bad-character",
      value,
      "must be 1..255 characters without NUL or newlines",
    );
  if (value.startsWith("-"))
    throw new InvalidValueError("libvirt domain name", "leading-hyphen", value, "must not start with '-'");
  return value;
}
export function virshDomblklistCommand(domain: string): string {
  return shJoin(["virsh", "domblklist", "--details", "--", validateDomainName(domain)]);
}
/** libvirt: the domain's run state in words ("running", "shut off", "paused"), one line. */
export function virshDomstateCommand(domain: string): string {
  return shJoin(["virsh", "domstate", "--", validateDomainName(domain)]);
}

/** Send a signal to a whole remote process group (see `withProcessGroupReport`). */
export function killProcessGroupCommand(pgid: number, signal: "TERM" | "KILL" = "TERM"): string {
  const id = uintText("process group id", pgid, { min: 2n, max: 4194304n });
  return `kill -s ${signal} -- ${shQuote(`-${id}`)} 2>/dev/null || kill -s ${signal} ${shQuote(id)} 2>/dev/null || true`;
}

/** Marker line a wrapped command writes first on stderr: `\x1ebf-pgid:<pgid>\n`. */
export const PGID_MARKER = "\x1ebf-pgid:";

/**
 * Make a command announce its process group on stderr before it runs. sshd gives every exec request its own
 * session (setsid), so the login shell's PID is the process group of everything the command starts; on
 * cancel the caller kills that group over another channel, since closing a channel does not stop the process.
 * The group id is exported too (OWNER_ENV): a process of ours found holding a device later is known as ours.
 */
export function withProcessGroupReport(command: string): string {
  return `printf '\\036bf-pgid:%s\\n' "$$" >&2\nexport ${OWNER_ENV}=$$\n${command}`;
}

// A small LVM host behind the HostShell interface: VGs, LVs, classic snapshots that fill up chunk by chunk and
// turn invalid when they overflow, tags, and each snapshot's COW store as the kernel lays it out. It runs the
// command strings packages/lvm generates (parsed as sh would split them), so phases are tested against what they
// really send, whatever the order. Thin pools are not modelled: their phases need thin_delta, proved in the lab.
import { dmDevicePath, dmName, type LvName, type VgName } from "@blockferry/lvm";
import { buildCowStore } from "../../../../packages/changes/test/helpers/cow-writer.ts";
import { lvmReportJson, lvReportRow, vgReportRow } from "../../../../test-support/lvm-report.ts";
import type { HostShell } from "../../src/jobs/context.ts";
import { shellWords } from "./shell-words.ts";

export interface FakeLv {
  vg: string;
  name: string;
  sizeBytes: number;
  tags: string[];
  minor: number;
  /** Set for a classic snapshot: its origin LV, chunk size, and what it recorded. */
  snapshot?: {
    origin: string;
    chunkBytes: number;
    /** Origin chunks copied to the COW store, in commit order. */
    exceptions: number[];
    valid: boolean;
  };
}

interface FakeVg {
  name: string;
  sizeBytes: number;
  extentBytes: number;
  lvs: Map<string, FakeLv>;
}

/** A failed command as the SSH layer reports one: exit status and stderr. */
export class FakeCommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`${command.slice(0, 120)} exited ${exitCode}: ${stderr}`);
  }
}

const SECTOR = 512;
const RECORDS_PER_AREA = (chunkBytes: number) => chunkBytes / 16;
const bytesArg = (v: string | undefined) => {
  if (!v || !/^\d+b$/.test(v)) throw new Error(`expected a byte count like 4096b, got ${v}`);
  return Number(v.slice(0, -1));
};

export class FakeLvmHost implements HostShell {
  readonly commands: string[] = [];
  /** The VM's disk is in use on this host (toggled by `fake-vm stop|start`, the job's VM commands; `fake-vm status` tells). */
  vmRunning = true;
  private readonly vgs = new Map<string, FakeVg>();
  private readonly failures: Array<{ match: (argv: string[]) => boolean; error: Error; afterRunning: boolean }> = [];
  private nextMinor = 1;

  constructor(
    readonly hostId: number,
    readonly name: string,
  ) {}

  addVg(name: string, sizeBytes: number, extentBytes = 4 << 20): this {
    this.vgs.set(name, { name, sizeBytes, extentBytes, lvs: new Map() });
    return this;
  }

  addLv(vg: string, name: string, sizeBytes: number, tags: string[] = []): FakeLv {
    const lv: FakeLv = { vg, name, sizeBytes, tags, minor: this.nextMinor++ };
    this.vg(vg).lvs.set(name, lv);
    return lv;
  }

  lv(vg: string, name: string): FakeLv | undefined {
    return this.vgs.get(vg)?.lvs.get(name);
  }

  lvNames(vg: string): string[] {
    return [...this.vg(vg).lvs.keys()];
  }

  /** How many commands of one tool ran (`lvcreate`, `dmsetup`, ...). */
  ran(tool: string): number {
    return this.commands.filter((c) => shellWords(c).argv[0] === tool).length;
  }

  /**
   * The next command whose argv matches fails with `error` (once): a host error, or with `afterRunning` a
   * connection (or server) lost after the command took effect, before its answer arrived.
   */
  failNext(
    match: (argv: string[]) => boolean,
    error: Error = new Error("connection lost"),
    opts: { afterRunning?: boolean } = {},
  ): void {
    this.failures.push({ match, error, afterRunning: opts.afterRunning ?? false });
  }

  /**
   * The VM writes bytes [offset, offset + length) of an origin: every valid snapshot of it copies the chunks it
   * has not copied yet, and one that runs out of room turns invalid for good, as dm-snapshot does.
   */
  write(vg: string, origin: string, offset: number, length: number): void {
    for (const lv of this.vg(vg).lvs.values()) {
      const snap = lv.snapshot;
      if (snap?.origin !== origin || !snap.valid) continue;
      const first = Math.floor(offset / snap.chunkBytes);
      const end = Math.ceil((offset + length) / snap.chunkBytes);
      for (let c = first; c < end; c++) if (!snap.exceptions.includes(c)) snap.exceptions.push(c);
      if (cowChunksUsed(snap) > lv.sizeBytes / snap.chunkBytes) snap.valid = false;
    }
  }

  async run(command: string, opts: { signal?: AbortSignal } = {}): Promise<string> {
    opts.signal?.throwIfAborted();
    this.commands.push(command);
    const { argv } = shellWords(command);
    const index = this.failures.findIndex((f) => f.match(argv));
    const failure = index >= 0 ? this.failures.splice(index, 1)[0] : undefined;
    if (failure && !failure.afterRunning) throw failure.error;
    const out = this.execute(command, argv);
    if (failure) throw failure.error;
    return out;
  }

  private execute(command: string, argv: string[]): string {
    const fail = (code: number, stderr: string) => new FakeCommandError(command, code, stderr);
    const [tool, ...args] = argv;
    switch (tool) {
      case "lvs":
        return this.lvsReport(args, fail);
      case "vgs":
        return this.vgsReport(args, fail);
      case "lvcreate":
        return this.lvcreate(args, fail);
      case "lvremove":
        return this.lvremove(args, fail);
      case "lvextend":
        return this.lvextend(args, fail);
      case "lvchange": {
        const lv = this.requireLv(args.at(-1), fail);
        for (let i = 0; i < args.length - 1; i++) {
          const tag = args[i + 1] as string;
          if (args[i] === "--addtag" && !lv.tags.includes(tag)) lv.tags.push(tag);
          if (args[i] === "--deltag") lv.tags = lv.tags.filter((t) => t !== tag);
        }
        return "";
      }
      case "dmsetup":
        return this.dmsetup(args, fail);
      case "blockdev":
        if (args[0] === "--flushbufs") return "";
        break;
      case "dd": {
        // Only the cutover gate's open-for-write probe (`dd if=/dev/null of=DEV ... count=0`): it needs the LV.
        const of = args.find((a) => a.startsWith("of="))?.slice(3);
        if (args.includes("if=/dev/null") && args.includes("count=0") && of) {
          const [, , vg, lv] = of.split("/");
          if (this.vgs.get(vg ?? "")?.lvs.has(lv ?? "")) return "";
          throw fail(1, `dd: failed to open '${of}': No such file or directory`);
        }
        break;
      }
      case "fake-vm":
        if (args[0] === "stop" || args[0] === "start") {
          this.vmRunning = args[0] === "start";
          return "";
        }
        // LSB status: 0 running, 3 not running.
        if (args[0] === "status") {
          if (this.vmRunning) return "running";
          throw fail(3, "");
        }
        break;
    }
    throw fail(127, `${tool}: command not found (not modelled by the fake host)`);
  }

  /** The COW device of a snapshot, as bytes laid out the way the kernel writes them; nothing else is readable. */
  async openByteSource(path: string, opts: { signal?: AbortSignal } = {}) {
    const lv = [...this.vgs.values()]
      .flatMap((vg) => [...vg.lvs.values()])
      .find((l) => l.snapshot && dmDevicePath(l.vg as VgName, l.name as LvName, "-cow") === path);
    const snap = lv?.snapshot;
    if (!snap) throw new FakeCommandError(`sftp open ${path}`, 2, "No such file");
    const { bytes } = buildCowStore({
      chunkBytes: snap.chunkBytes,
      oldChunks: snap.exceptions,
      valid: snap.valid ? 1 : 0,
      dataFill: 0,
    });
    return {
      size: async () => bytes.length,
      read: async (offset: number, length: number) => {
        opts.signal?.throwIfAborted();
        return bytes.slice(offset, offset + length);
      },
      close: async () => undefined,
    };
  }

  private vg(name: string): FakeVg {
    const vg = this.vgs.get(name);
    if (!vg) throw new Error(`fake host ${this.name} has no VG ${name}`);
    return vg;
  }

  private freeBytes(vg: FakeVg): number {
    let used = 0;
    for (const lv of vg.lvs.values()) used += lv.sizeBytes;
    return vg.sizeBytes - used;
  }

  private requireLv(path: string | undefined, fail: (c: number, s: string) => Error): FakeLv {
    const [vg, name] = (path ?? "").split("/");
    const lv = this.vgs.get(vg ?? "")?.lvs.get(name ?? "");
    if (!lv) throw fail(5, `  Failed to find logical volume "${path}"`);
    return lv;
  }

  private lvsReport(args: string[], fail: (c: number, s: string) => Error): string {
    // lvsCommand: options, `-o FIELDS`, then at most one scope word.
    const scope = args[args.indexOf("-o") + 2] ?? "";
    const vgOfScope = scope.startsWith("@") ? "" : (scope.split("/")[0] ?? "");
    if (vgOfScope && !this.vgs.has(vgOfScope)) throw fail(5, `  Volume group "${vgOfScope}" not found`);
    const all = [...this.vgs.values()].flatMap((vg) => [...vg.lvs.values()]);
    const selected = all.filter((lv) =>
      scope.startsWith("@")
        ? lv.tags.includes(scope.slice(1))
        : scope.includes("/")
          ? `${lv.vg}/${lv.name}` === scope
          : scope === "" || lv.vg === scope,
    );
    return lvmReportJson(
      "lv",
      selected.map((lv) => this.lvRow(lv, all)),
    );
  }

  private lvRow(lv: FakeLv, all: FakeLv[]) {
    const snap = lv.snapshot;
    const hasSnapshots = all.some((o) => o.vg === lv.vg && o.snapshot?.origin === lv.name);
    const attr = snap ? (snap.valid ? "swi-a-s---" : "swi-I-s---") : hasSnapshots ? "owi-aos---" : "-wi-a-----";
    const percent = snap
      ? snap.valid
        ? ((cowChunksUsed(snap) * snap.chunkBytes * 100) / lv.sizeBytes).toFixed(2)
        : "100.00"
      : "";
    return lvReportRow({
      vg_name: lv.vg,
      lv_name: lv.name,
      lv_attr: attr,
      lv_size: String(lv.sizeBytes),
      origin: snap?.origin ?? "",
      lv_tags: lv.tags.join(","),
      snap_percent: percent,
      chunk_size: String(snap?.chunkBytes ?? 0),
      lv_kernel_minor: String(lv.minor),
    });
  }

  private vgsReport(args: string[], fail: (c: number, s: string) => Error): string {
    const name = args.at(-1) ?? "";
    const wanted = name.startsWith("-") || name.includes(",") ? [...this.vgs.values()] : [this.vgs.get(name)];
    if (wanted.some((v) => !v)) throw fail(5, `  Volume group "${name}" not found`);
    return lvmReportJson(
      "vg",
      (wanted as FakeVg[]).map((vg) =>
        vgReportRow({
          vg_name: vg.name,
          vg_size: String(vg.sizeBytes),
          vg_free: String(this.freeBytes(vg)),
          vg_extent_size: String(vg.extentBytes),
          lv_count: String(vg.lvs.size),
        }),
      ),
    );
  }

  private lvcreate(args: string[], fail: (c: number, s: string) => Error): string {
    const opts: Record<string, string> = {};
    const tags: string[] = [];
    let snapshot = false;
    let place = "";
    for (let i = 0; i < args.length; i++) {
      const a = args[i] as string;
      if (a === "--snapshot") snapshot = true;
      else if (a === "--yes") continue;
      else if (a === "--addtag") tags.push(args[++i] as string);
      else if (a.startsWith("--")) opts[a] = args[++i] as string;
      else place = a;
    }
    if (opts["--type"] && opts["--type"] !== "linear") throw fail(3, `type ${opts["--type"]} is not modelled`);
    const [vgName, origin] = place.split("/");
    const vg = this.vgs.get(vgName ?? "");
    const name = opts["--name"] as string;
    if (!vg) throw fail(5, `  Volume group "${vgName}" not found`);
    if (vg.lvs.has(name)) throw fail(5, `  Logical Volume "${name}" already exists in volume group "${vg.name}"`);
    const size = Math.ceil(bytesArg(opts["--size"]) / vg.extentBytes) * vg.extentBytes;
    if (size > this.freeBytes(vg)) throw fail(5, `  Volume group "${vg.name}" has insufficient free space`);
    const lv = this.addLv(vg.name, name, size, tags);
    if (snapshot) {
      if (!origin || !vg.lvs.has(origin)) throw fail(5, `  Failed to find origin "${place}"`);
      lv.snapshot = { origin, chunkBytes: bytesArg(opts["--chunksize"] ?? "4096b"), exceptions: [], valid: true };
    }
    return `  Logical volume "${name}" created.\n`;
  }

  private lvremove(args: string[], fail: (c: number, s: string) => Error): string {
    const lv = this.requireLv(args.at(-1), fail);
    const vg = this.vg(lv.vg);
    if ([...vg.lvs.values()].some((o) => o.snapshot?.origin === lv.name))
      throw fail(5, `  Logical volume ${lv.vg}/${lv.name} has snapshots: remove them first`);
    vg.lvs.delete(lv.name);
    return `  Logical volume "${lv.name}" successfully removed.\n`;
  }

  private lvextend(args: string[], fail: (c: number, s: string) => Error): string {
    const lv = this.requireLv(args.at(-1), fail);
    const vg = this.vg(lv.vg);
    const size = Math.ceil(bytesArg(args[args.indexOf("--size") + 1]) / vg.extentBytes) * vg.extentBytes;
    if (size - lv.sizeBytes > this.freeBytes(vg)) throw fail(5, `  Insufficient free space in ${vg.name}`);
    lv.sizeBytes = size;
    return "";
  }

  private dmsetup(args: string[], fail: (c: number, s: string) => Error): string {
    const [verb, name] = args;
    const lv = [...this.vgs.values()]
      .flatMap((vg) => [...vg.lvs.values()])
      .find((l) => dmName(l.vg as VgName, l.name) === name);
    if (!lv) throw fail(1, `Device ${name} does not exist.\nCommand failed.`);
    const snap = lv.snapshot;
    const originBytes = snap ? (this.lv(lv.vg, snap.origin)?.sizeBytes ?? 0) : lv.sizeBytes;
    const head = `0 ${originBytes / SECTOR}`;
    if (!snap) return `${head} linear 8:0 0\n`;
    const chunkSectors = snap.chunkBytes / SECTOR;
    if (verb === "table")
      return `${head} snapshot 253:${this.lv(lv.vg, snap.origin)?.minor} 253:${lv.minor} P ${chunkSectors}\n`;
    if (verb !== "status") throw fail(1, `dmsetup ${verb} is not modelled`);
    if (!snap.valid) return `${head} snapshot Invalid\n`;
    const metadata = (1 + areas(snap)) * chunkSectors;
    const allocated = metadata + snap.exceptions.length * chunkSectors;
    return `${head} snapshot ${allocated}/${lv.sizeBytes / SECTOR} ${metadata}\n`;
  }
}

/** Metadata areas in use: one per RECORDS_PER_AREA exceptions, the partly filled last one included. */
const areas = (s: NonNullable<FakeLv["snapshot"]>) =>
  Math.floor(s.exceptions.length / RECORDS_PER_AREA(s.chunkBytes)) + 1;
/** Header chunk, metadata areas and one data chunk per exception. */
const cowChunksUsed = (s: NonNullable<FakeLv["snapshot"]>) => 1 + areas(s) + s.exceptions.length;

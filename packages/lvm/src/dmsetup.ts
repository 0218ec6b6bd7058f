// Parsers for `dmsetup status`, `dmsetup table` and `dmsetup info -c` lines.
import { ParseError } from "./errors.ts";

export type DmTargetLine = { name: string | null; start: number; length: number; target: string; args: string[] };

function sectors(v: string | undefined, what: string): number {
  if (v === undefined || !/^\d+$/.test(v))
    throw new ParseError(what, `expected a sector count, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new ParseError(what, `sector count too large: ${v}`);
  return n;
}

/** `[name: ]START LENGTH TARGET ARGS...` — the name prefix appears when dmsetup lists every device. */
export function parseDmTargetLine(line: string, what = "dmsetup line"): DmTargetLine {
  let rest = line.trim();
  let name: string | null = null;
  const colon = rest.match(/^(\S+): /);
  if (colon?.[1] !== undefined) {
    name = colon[1];
    rest = rest.slice(colon[0].length);
  }
  const parts = rest.split(/\s+/);
  if (parts.length < 3) throw new ParseError(what, `too few fields in ${JSON.stringify(line)}`);
  return {
    name,
    start: sectors(parts[0], what),
    length: sectors(parts[1], what),
    target: parts[2] ?? "",
    args: parts.slice(3),
  };
}

/** Every target line of `dmsetup status` or `dmsetup table` run without a device name, grouped by device. */
export function parseDmsetupAll(output: string, what = "dmsetup output"): Map<string, DmTargetLine[]> {
  const devices = new Map<string, DmTargetLine[]>();
  let current: string | null = null;
  for (const raw of output.split("\n")) {
    const line = raw.trimEnd();
    if (line === "" || line === "No devices found") continue;
    // A device with no table prints just `name: ` — keep it, with no targets.
    const bare = line.match(/^(\S+):$/);
    if (bare?.[1] !== undefined) {
      current = bare[1];
      if (!devices.has(current)) devices.set(current, []);
      continue;
    }
    const t = parseDmTargetLine(line, what);
    const name: string | null = t.name ?? current;
    if (name === null) throw new ParseError(what, `line without a device name: ${JSON.stringify(line)}`);
    current = name;
    const list = devices.get(name) ?? [];
    list.push({ ...t, name });
    devices.set(name, list);
  }
  return devices;
}

export type SnapshotStatus =
  | { state: "valid"; allocatedSectors: number; totalSectors: number; metadataSectors: number; fillPercent: number }
  | { state: "invalid" | "overflow" | "merge-failed" | "unknown" };

/** dm-snap.c snapshot_status: `ALLOC/TOTAL METADATA`, or `Invalid`, `Overflow`, `Merge failed`, `Unknown`. */
export function parseSnapshotStatus(line: string): SnapshotStatus {
  const what = "snapshot status";
  const t = parseDmTargetLine(line, what);
  if (t.target !== "snapshot" && t.target !== "snapshot-merge")
    throw new ParseError(what, `target is ${t.target}, not snapshot`);
  const [first, second] = t.args;
  if (first === "Invalid") return { state: "invalid" };
  if (first === "Overflow") return { state: "overflow" };
  if (first === "Merge" && second === "failed") return { state: "merge-failed" };
  if (first === "Unknown") return { state: "unknown" };
  const m = first?.match(/^(\d+)\/(\d+)$/);
  if (!m) throw new ParseError(what, `unexpected ${JSON.stringify(line)}`);
  const allocatedSectors = sectors(m[1], what);
  const totalSectors = sectors(m[2], what);
  const metadataSectors = sectors(second, what);
  return {
    state: "valid",
    allocatedSectors,
    totalSectors,
    metadataSectors,
    fillPercent: totalSectors === 0 ? 0 : (allocatedSectors / totalSectors) * 100,
  };
}

export type ThinPoolStatus =
  | {
      state: "ok";
      transactionId: number;
      usedMetadataBlocks: number;
      totalMetadataBlocks: number;
      usedDataBlocks: number;
      totalDataBlocks: number;
      /** Root of a reserved metadata snapshot, or null: a non-null value left over means a forgotten reservation. */
      heldMetadataRoot: number | null;
      mode: "rw" | "ro" | "out_of_data_space";
      needsCheck: boolean;
    }
  | { state: "fail" | "error" };

/** dm-thin.c pool_status: `TID USEDMETA/TOTALMETA USEDDATA/TOTALDATA HELDROOT MODE ...`. */
export function parseThinPoolStatus(line: string): ThinPoolStatus {
  const what = "thin-pool status";
  const t = parseDmTargetLine(line, what);
  if (t.target !== "thin-pool") throw new ParseError(what, `target is ${t.target}, not thin-pool`);
  const a = t.args;
  if (a[0] === "Fail") return { state: "fail" };
  if (a[0] === "Error") return { state: "error" };
  const ratio = (v: string | undefined) => {
    const m = v?.match(/^(\d+)\/(\d+)$/);
    if (!m) throw new ParseError(what, `expected USED/TOTAL, got ${JSON.stringify(v)}`);
    return [sectors(m[1], what), sectors(m[2], what)] as const;
  };
  const [um, tm] = ratio(a[1]);
  const [ud, td] = ratio(a[2]);
  const mode = a[4];
  if (mode !== "rw" && mode !== "ro" && mode !== "out_of_data_space")
    throw new ParseError(what, `unknown mode ${mode}`);
  return {
    state: "ok",
    transactionId: sectors(a[0], what),
    usedMetadataBlocks: um,
    totalMetadataBlocks: tm,
    usedDataBlocks: ud,
    totalDataBlocks: td,
    heldMetadataRoot: a[3] === "-" ? null : sectors(a[3], what),
    mode,
    needsCheck: a.includes("needs_check"),
  };
}

export type SnapshotTable = {
  lengthSectors: number;
  origin: { major: number; minor: number };
  cow: { major: number; minor: number };
  persistent: boolean;
  chunkSectors: number;
};

/** `0 SECTORS snapshot ORIGIN_MAJ:MIN COW_MAJ:MIN P|N|PO CHUNK_SECTORS` */
export function parseSnapshotTable(line: string): SnapshotTable {
  const what = "snapshot table";
  const t = parseDmTargetLine(line, what);
  if (t.target !== "snapshot" && t.target !== "snapshot-merge")
    throw new ParseError(what, `target is ${t.target}, not snapshot`);
  const dev = (v: string | undefined) => {
    const m = v?.match(/^(\d+):(\d+)$/);
    if (!m) throw new ParseError(what, `expected MAJOR:MINOR, got ${JSON.stringify(v)}`);
    return { major: Number(m[1]), minor: Number(m[2]) };
  };
  const [o, c, p, chunk] = t.args;
  if (p === undefined || !/^[PN]O?$/.test(p)) throw new ParseError(what, `unexpected store type ${JSON.stringify(p)}`);
  return {
    lengthSectors: t.length,
    origin: dev(o),
    cow: dev(c),
    persistent: p.startsWith("P"),
    chunkSectors: sectors(chunk, what),
  };
}

export type DmInfoRow = { name: string; major: number; minor: number; uuid: string; openCount: number; attr: string };

/** `dmsetup info -c --noheadings --separator '|' -o name,major,minor,uuid,open,attr` */
export function parseDmsetupInfo(output: string): DmInfoRow[] {
  const what = "dmsetup info";
  return output
    .split("\n")
    .filter((l) => l.trim() !== "" && l.trim() !== "No devices found")
    .map((l) => {
      const f = l.split("|");
      if (f.length !== 6) throw new ParseError(what, `expected 6 fields in ${JSON.stringify(l)}`);
      return {
        name: f[0] ?? "",
        major: sectors(f[1], what),
        minor: sectors(f[2], what),
        uuid: f[3] ?? "",
        openCount: sectors(f[4], what),
        attr: f[5] ?? "",
      };
    });
}

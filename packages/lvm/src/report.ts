// Parsers for `lvs|vgs|pvs --reportformat json --units b --nosuffix`: every value arrives as a string.
import { ParseError } from "./errors.ts";

export type LvKind = "linear" | "thin" | "thin-pool" | "snapshot" | "origin" | "other";

export type LvAttr = {
  kind: LvKind;
  /** w = writable, r = read-only, R = read-only activation of a writable LV. */
  permission: "w" | "r" | "R" | "-";
  active: boolean;
  /** State `I` (or `S`): a classic snapshot that overflowed; its reads fail with EIO and it can never be used again. */
  invalidSnapshot: boolean;
  suspended: boolean;
  open: boolean;
  skipActivation: boolean;
};

/** Decode the 10-character `lv_attr` (lvs(8), "The lv_attr bits are"). */
export function decodeLvAttr(attr: string): LvAttr {
  if (attr.length < 6) throw new ParseError("lv_attr", `too short: ${JSON.stringify(attr)}`);
  const t = attr[0];
  const kind: LvKind =
    t === "-"
      ? "linear"
      : t === "V"
        ? "thin"
        : t === "t"
          ? "thin-pool"
          : t === "s" || t === "S"
            ? "snapshot"
            : t === "o" || t === "O"
              ? "origin"
              : "other";
  const p = attr[1];
  const state = attr[4];
  return {
    kind,
    permission: p === "w" || p === "r" || p === "R" ? p : "-",
    active:
      state === "a" ||
      state === "s" ||
      state === "I" ||
      state === "S" ||
      state === "m" ||
      state === "M" ||
      state === "c" ||
      state === "C",
    invalidSnapshot: state === "I" || state === "S",
    suspended: state === "s" || state === "S" || state === "M" || state === "C",
    open: attr[5] === "o",
    skipActivation: attr[9] === "k",
  };
}

export type LvRecord = {
  vg: string;
  name: string;
  uuid: string;
  attr: string;
  segtype: string;
  sizeBytes: number;
  origin: string | null;
  pool: string | null;
  tags: string[];
  snapPercent: number | null;
  dataPercent: number | null;
  metadataPercent: number | null;
  /** Snapshot or pool chunk size in bytes; null where LVM reports 0 (plain LVs). */
  chunkSizeBytes: number | null;
  thinId: number | null;
  kernelMajor: number | null;
  kernelMinor: number | null;
} & LvAttr;

export type VgRecord = {
  name: string;
  uuid: string;
  attr: string;
  sizeBytes: number;
  freeBytes: number;
  extentSizeBytes: number;
  extentCount: number;
  freeExtentCount: number;
  pvCount: number;
  lvCount: number;
  tags: string[];
};

export type PvRecord = {
  name: string;
  vg: string | null;
  uuid: string;
  sizeBytes: number;
  freeBytes: number;
  devSizeBytes: number;
};

type Row = Record<string, unknown>;
const isRow = (v: unknown): v is Row => typeof v === "object" && v !== null && !Array.isArray(v);

/** All rows of one report type (`lv`, `vg`, `pv`) across every `report` entry; the `log` part is ignored. */
function rowsOf(json: string, type: "lv" | "vg" | "pv"): Row[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new ParseError(`${type}s report`, `not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const report = isRow(doc) ? doc.report : undefined;
  if (!Array.isArray(report)) throw new ParseError(`${type}s report`, "no 'report' array");
  const rows: Row[] = [];
  for (const entry of report) {
    const part = isRow(entry) ? entry[type] : undefined;
    if (part === undefined) continue;
    if (!Array.isArray(part)) throw new ParseError(`${type}s report`, `'${type}' is not an array`);
    for (const r of part) {
      if (!isRow(r)) throw new ParseError(`${type}s report`, "row is not an object");
      rows.push(r);
    }
  }
  return rows;
}

function str(row: Row, field: string, what: string): string {
  const v = row[field];
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v); // json_std prints numbers
  throw new ParseError(what, `field ${field} missing`);
}
function optStr(row: Row, field: string, what: string): string | null {
  const v = str(row, field, what);
  return v === "" ? null : v;
}
function int(row: Row, field: string, what: string): number {
  const v = str(row, field, what);
  if (!/^\d+$/.test(v)) throw new ParseError(what, `field ${field} is not an integer byte count: ${JSON.stringify(v)}`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new ParseError(what, `field ${field} exceeds 2^53: ${v}`);
  return n;
}
function optInt(row: Row, field: string, what: string): number | null {
  const v = str(row, field, what);
  if (v === "" || v === "-1") return null;
  return int(row, field, what);
}
function percent(row: Row, field: string, what: string): number | null {
  const v = str(row, field, what);
  if (v === "") return null;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ParseError(what, `field ${field} is not a percentage: ${JSON.stringify(v)}`);
  return n;
}
function tags(row: Row, field: string, what: string): string[] {
  const v = str(row, field, what);
  return v === "" ? [] : v.split(",");
}

export function parseLvsReport(json: string): LvRecord[] {
  const what = "lvs report";
  return rowsOf(json, "lv").map((r) => {
    const attr = str(r, "lv_attr", what);
    const chunk = optInt(r, "chunk_size", what);
    return {
      vg: str(r, "vg_name", what),
      name: str(r, "lv_name", what),
      uuid: str(r, "lv_uuid", what),
      attr,
      segtype: str(r, "segtype", what),
      sizeBytes: int(r, "lv_size", what),
      origin: optStr(r, "origin", what),
      pool: optStr(r, "pool_lv", what),
      tags: tags(r, "lv_tags", what),
      snapPercent: percent(r, "snap_percent", what),
      dataPercent: percent(r, "data_percent", what),
      metadataPercent: percent(r, "metadata_percent", what),
      chunkSizeBytes: chunk === 0 ? null : chunk,
      thinId: optInt(r, "thin_id", what),
      kernelMajor: optInt(r, "lv_kernel_major", what),
      kernelMinor: optInt(r, "lv_kernel_minor", what),
      ...decodeLvAttr(attr),
    };
  });
}

export function parseVgsReport(json: string): VgRecord[] {
  const what = "vgs report";
  return rowsOf(json, "vg").map((r) => ({
    name: str(r, "vg_name", what),
    uuid: str(r, "vg_uuid", what),
    attr: str(r, "vg_attr", what),
    sizeBytes: int(r, "vg_size", what),
    freeBytes: int(r, "vg_free", what),
    extentSizeBytes: int(r, "vg_extent_size", what),
    extentCount: int(r, "vg_extent_count", what),
    freeExtentCount: int(r, "vg_free_count", what),
    pvCount: int(r, "pv_count", what),
    lvCount: int(r, "lv_count", what),
    tags: tags(r, "vg_tags", what),
  }));
}

export function parsePvsReport(json: string): PvRecord[] {
  const what = "pvs report";
  return rowsOf(json, "pv").map((r) => ({
    name: str(r, "pv_name", what),
    vg: optStr(r, "vg_name", what),
    uuid: str(r, "pv_uuid", what),
    sizeBytes: int(r, "pv_size", what),
    freeBytes: int(r, "pv_free", what),
    devSizeBytes: int(r, "dev_size", what),
  }));
}

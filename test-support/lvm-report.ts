// What `lvs|vgs --reportformat json --units b --nosuffix -o <LV|VG_REPORT_FIELDS>` prints (LVM 2.03): every value
// a string. One builder for every test that stands in for LVM (parser tests, stand-in tools, the fake host), so
// they all agree with the fields packages/lvm asks for. Lives at the root because packages, the server and e2e
// all use it.
import type { LV_REPORT_FIELDS, VG_REPORT_FIELDS } from "../packages/lvm/src/commands.ts";

export type LvReportRow = Record<(typeof LV_REPORT_FIELDS)[number], string>;
export type VgReportRow = Record<(typeof VG_REPORT_FIELDS)[number], string>;

/** A plain active linear LV of 64 MiB in vg0, with `o` on top; the UUID follows the names unless given. */
export function lvReportRow(o: Partial<LvReportRow> = {}): LvReportRow {
  const vg = o.vg_name ?? "vg0";
  const lv = o.lv_name ?? "x";
  return {
    lv_name: lv,
    vg_name: vg,
    lv_uuid: `uuid-${vg}-${lv}`,
    lv_attr: "-wi-a-----",
    lv_size: String(64 << 20),
    segtype: "linear",
    origin: "",
    pool_lv: "",
    lv_tags: "",
    snap_percent: "",
    data_percent: "",
    metadata_percent: "",
    chunk_size: "0",
    thin_id: "",
    lv_kernel_major: "253",
    lv_kernel_minor: "0",
    ...o,
  };
}

/** A one-PV VG of 4 MiB extents; `o.vg_free` also sets the free extent count. */
export function vgReportRow(o: Partial<VgReportRow> = {}): VgReportRow {
  const name = o.vg_name ?? "vg0";
  const extent = Number(o.vg_extent_size ?? 4 << 20);
  const size = Number(o.vg_size ?? 8 * 2 ** 30);
  const free = Number(o.vg_free ?? size);
  return {
    vg_name: name,
    vg_uuid: `vgu-${name}`,
    vg_attr: "wz--n-",
    vg_size: String(size),
    vg_free: String(free),
    vg_extent_size: String(extent),
    vg_extent_count: String(Math.floor(size / extent)),
    vg_free_count: String(Math.floor(free / extent)),
    pv_count: "1",
    lv_count: "0",
    vg_tags: "",
    ...o,
  };
}

/** The JSON document around rows; `withLog` adds the `log` part LVM prints when command logging is on. */
export function lvmReportJson(
  kind: "lv" | "vg",
  rows: ReadonlyArray<Record<string, string>>,
  opts: { withLog?: boolean; indent?: number } = {},
): string {
  const log = opts.withLog ? { log: [{ log_seq_num: "1", log_type: "status", log_message: "" }] } : {};
  return JSON.stringify({ report: [{ [kind]: rows }], ...log }, null, opts.indent);
}

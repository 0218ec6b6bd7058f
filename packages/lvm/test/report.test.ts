import { describe, expect, it } from "vitest";
import { lvmReportJson, lvReportRow } from "../../../test-support/lvm-report.ts";
import { decodeLvAttr, ParseError, parseLvsReport, parsePvsReport, parseVgsReport } from "../src/index.ts";

// Shape as printed by lvm 2.03 `lvs --reportformat json --units b --nosuffix -o <LV_REPORT_FIELDS>`.
const lvRow = lvReportRow;
const lvsJson = (rows: Record<string, string>[]) => lvmReportJson("lv", rows, { withLog: true, indent: 2 });

describe("lvs report", () => {
  it("decodes every LV kind with sizes in bytes", () => {
    const lvs = parseLvsReport(
      lvsJson([
        lvRow({ lv_attr: "owi-aos---", lv_name: "vm1" }),
        lvRow({
          lv_name: "vm1-snap",
          lv_attr: "swi-a-s---",
          origin: "vm1",
          snap_percent: "12.50",
          chunk_size: "4096",
          lv_tags: "blockferry,bf-job-3",
          lv_size: "1073741824",
        }),
        lvRow({
          lv_name: "old-snap",
          lv_attr: "swi-I-s---",
          origin: "vm1",
          snap_percent: "100.00",
          chunk_size: "4096",
        }),
        lvRow({
          lv_name: "pool",
          lv_attr: "twi-aotz--",
          segtype: "thin-pool",
          data_percent: "3.10",
          metadata_percent: "10.55",
          chunk_size: "65536",
        }),
        lvRow({
          lv_name: "thin1",
          lv_attr: "Vwi-a-tz--",
          segtype: "thin",
          pool_lv: "pool",
          data_percent: "5.00",
          thin_id: "1",
        }),
        lvRow({
          lv_name: "thin1-s",
          lv_attr: "Vwi---tz-k",
          segtype: "thin",
          pool_lv: "pool",
          origin: "thin1",
          thin_id: "2",
          lv_kernel_major: "-1",
          lv_kernel_minor: "-1",
        }),
        lvRow({ lv_name: "huge", lv_size: "9007199254740991" }),
      ]),
    );
    expect(lvs.map((l) => [l.name, l.kind])).toEqual([
      ["vm1", "origin"],
      ["vm1-snap", "snapshot"],
      ["old-snap", "snapshot"],
      ["pool", "thin-pool"],
      ["thin1", "thin"],
      ["thin1-s", "thin"],
      ["huge", "linear"],
    ]);
    const [origin, snap, bad, pool, thin, thinSnap] = lvs;
    expect(origin?.open).toBe(true);
    expect(snap).toMatchObject({
      origin: "vm1",
      snapPercent: 12.5,
      chunkSizeBytes: 4096,
      sizeBytes: 1073741824,
      tags: ["blockferry", "bf-job-3"],
      invalidSnapshot: false,
      active: true,
      open: false,
    });
    expect(bad).toMatchObject({ invalidSnapshot: true, snapPercent: 100 });
    expect(pool).toMatchObject({ dataPercent: 3.1, metadataPercent: 10.55, chunkSizeBytes: 65536, pool: null });
    expect(thin).toMatchObject({ pool: "pool", thinId: 1, origin: null, chunkSizeBytes: null });
    expect(thinSnap).toMatchObject({
      origin: "thin1",
      thinId: 2,
      active: false,
      skipActivation: true,
      kernelMajor: null,
    });
    expect(lvs[6]?.sizeBytes).toBe(9007199254740991);
  });

  it("rejects what it cannot trust", () => {
    expect(() => parseLvsReport("not json")).toThrow(ParseError);
    expect(() => parseLvsReport(JSON.stringify({}))).toThrow(/no 'report'/);
    expect(() => parseLvsReport(lvsJson([lvRow({ lv_size: "10.5" })]))).toThrow(/lv_size/);
    expect(() => parseLvsReport(lvsJson([lvRow({ lv_size: "18446744073709551616" })]))).toThrow(/2\^53/);
    const { lv_uuid: _, ...missing } = lvRow({});
    expect(() => parseLvsReport(lvsJson([missing]))).toThrow(/lv_uuid missing/);
  });

  it("decodes attr states", () => {
    expect(decodeLvAttr("-wi-------")).toMatchObject({ kind: "linear", active: false, open: false, permission: "w" });
    expect(decodeLvAttr("-ri-ao----")).toMatchObject({ permission: "r", active: true, open: true });
    expect(decodeLvAttr("Swi-S-s---")).toMatchObject({ kind: "snapshot", invalidSnapshot: true, suspended: true });
    expect(decodeLvAttr("rwi-a-r---").kind).toBe("other");
    expect(() => decodeLvAttr("-w")).toThrow(ParseError);
  });

  it("parses 500 LVs quickly", () => {
    const rows = Array.from({ length: 500 }, (_, i) =>
      lvRow({ lv_name: `vm-${i}-disk-0`, lv_tags: i % 2 ? "blockferry" : "" }),
    );
    const json = lvsJson(rows);
    parseLvsReport(json); // warm up
    const t0 = performance.now();
    const runs = 20;
    for (let i = 0; i < runs; i++) expect(parseLvsReport(json)).toHaveLength(500);
    const ms = (performance.now() - t0) / runs;
    console.log(JSON.stringify({ measure: "parseLvsReport", lvs: 500, bytes: json.length, ms: Number(ms.toFixed(3)) }));
    expect(ms).toBeLessThan(250); // sanity bound; the figure is logged
  });
});

describe("vgs and pvs reports", () => {
  it("parse sizes, extents and counts", () => {
    const vgs = parseVgsReport(
      JSON.stringify({
        report: [
          {
            vg: [
              {
                vg_name: "vg0",
                vg_uuid: "u",
                vg_attr: "wz--n-",
                vg_size: "268435456",
                vg_free: "130023424",
                vg_extent_size: "4194304",
                vg_extent_count: "64",
                vg_free_count: "31",
                pv_count: "1",
                lv_count: "3",
                vg_tags: "",
              },
            ],
          },
        ],
      }),
    );
    expect(vgs).toEqual([
      {
        name: "vg0",
        uuid: "u",
        attr: "wz--n-",
        sizeBytes: 268435456,
        freeBytes: 130023424,
        extentSizeBytes: 4194304,
        extentCount: 64,
        freeExtentCount: 31,
        pvCount: 1,
        lvCount: 3,
        tags: [],
      },
    ]);
    const pvs = parsePvsReport(
      JSON.stringify({
        report: [
          {
            pv: [
              {
                pv_name: "/dev/vda",
                vg_name: "vg0",
                pv_uuid: "p",
                pv_size: "264241152",
                pv_free: "0",
                dev_size: "268435456",
              },
              { pv_name: "/dev/vdb", vg_name: "", pv_uuid: "", pv_size: "0", pv_free: "0", dev_size: "1048576" },
            ],
          },
        ],
      }),
    );
    expect(pvs[0]).toEqual({
      name: "/dev/vda",
      vg: "vg0",
      uuid: "p",
      sizeBytes: 264241152,
      freeBytes: 0,
      devSizeBytes: 268435456,
    });
    expect(pvs[1]?.vg).toBeNull();
  });
});

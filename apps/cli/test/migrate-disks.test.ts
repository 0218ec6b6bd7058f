// `migrate --disk VG/LV` (repeatable): the flags a VM's disk set is given by, turned into the create body's disks.
import { describe, expect, it } from "vitest";
import { disksFromFlags, repeatedFlag } from "../src/commands/migrate.ts";

describe("migrate --disk", () => {
  it("collects every --disk in order, in both spellings", () => {
    const argv = ["--from", "lab1", "--disk", "vg0/root", "--to", "lab2:vg1", "--disk=vg2/data"];
    expect(repeatedFlag(argv, "disk")).toEqual(["vg0/root", "vg2/data"]);
  });

  it("sends each disk to the target VG under its own name, into the thin pool when given", () => {
    expect(disksFromFlags(["vg0/root", "vg2/data"], { vg: "vg1" }, "pool")).toEqual([
      { source: { vg: "vg0", lv: "root" }, target: { vg: "vg1", thinPool: "pool" } },
      { source: { vg: "vg2", lv: "data" }, target: { vg: "vg1", thinPool: "pool" } },
    ]);
  });

  it("refuses a disk that is not VG/LV, and one target LV name for several disks", () => {
    expect(() => disksFromFlags(["root"], { vg: "vg1" })).toThrow(/VG\/LV/);
    expect(() => disksFromFlags(["vg0/a", "vg0/b"], { vg: "vg1", lv: "x" })).toThrow(/names one LV/);
  });
});

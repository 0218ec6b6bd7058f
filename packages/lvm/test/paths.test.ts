import { describe, expect, it } from "vitest";
import {
  dmDevicePath,
  dmName,
  InvalidValueError,
  lvDevicePath,
  validateDevicePath,
  validateLvName,
  validateRemotePath,
  validateVgName,
} from "../src/index.ts";

describe("device paths", () => {
  it("accepts LV and mapper paths", () => {
    expect(validateDevicePath("/dev/vg0/root")).toBe("/dev/vg0/root");
    expect(validateDevicePath("/dev/mapper/vg--a-lv--b-cow")).toBe("/dev/mapper/vg--a-lv--b-cow");
    expect(validateDevicePath("/dev/vdb")).toBe("/dev/vdb");
    expect(validateRemotePath("/var/tmp/disk-1.img")).toBe("/var/tmp/disk-1.img");
  });

  it.each([
    ["", "empty"],
    ["dev/vg/lv", "not-absolute"],
    ["/dev/vg/../../etc/shadow", "dot-name"],
    ["/dev/./vg", "dot-name"],
    ["/dev//vg", "bad-segment"],
    ["/dev/vg/", "bad-segment"],
    ["/dev/vg/-lv", "leading-hyphen"],
    ["/dev/vg/l v", "bad-character"],
    ["/dev/vg/$(id)", "bad-character"],
    ["/dev/vg/lv\n", "bad-character"],
    ["/etc/passwd", "not-a-device-path"],
    ["/dev/", "bad-segment"],
    [`/dev/${"a".repeat(5000)}`, "too-long"],
  ])("refuses %j (%s)", (path, reason) => {
    let got = "accepted";
    try {
      validateDevicePath(path);
    } catch (err) {
      got = err instanceof InvalidValueError ? err.reason : "other";
    }
    expect(got).toBe(reason);
  });

  it("builds device-mapper names with doubled hyphens", () => {
    const vg = validateVgName("vg-data");
    const lv = validateLvName("vm-1-disk");
    expect(dmName(vg, lv)).toBe("vg--data-vm--1--disk");
    expect(dmDevicePath(vg, lv, "-cow")).toBe("/dev/mapper/vg--data-vm--1--disk-cow");
    expect(lvDevicePath(vg, lv)).toBe("/dev/vg-data/vm-1-disk");
    expect(dmName(validateVgName("vg0"), "pool_tmeta")).toBe("vg0-pool_tmeta");
  });
});

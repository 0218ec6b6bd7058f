import { describe, expect, it } from "vitest";
import {
  InvalidValueError,
  jobTag,
  LV_RESERVED_SUBSTRINGS,
  migratedAwayJobId,
  migratedAwayTag,
  validateLvName,
  validateTag,
  validateVgName,
} from "../src/index.ts";

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidValueError) return err.reason;
    throw err;
  }
  return "accepted";
}

describe("LVM names (lvm(8) VALID NAMES)", () => {
  it("accepts the full allowed character set", () => {
    expect(validateVgName("vg0")).toBe("vg0");
    expect(validateVgName("a+b_c.d-e")).toBe("a+b_c.d-e");
    expect(validateLvName("vm-101-disk.0+x_y")).toBe("vm-101-disk.0+x_y");
    expect(validateLvName("x".repeat(127))).toHaveLength(127);
    expect(validateLvName("...")).toBe("...");
    expect(validateLvName("my_snapshot")).toBe("my_snapshot"); // only the prefix is reserved
  });

  it.each([
    ["", "empty"],
    ["x".repeat(128), "too-long"],
    ["-vg", "leading-hyphen"],
    [".", "dot-name"],
    ["..", "dot-name"],
    ["a b", "bad-character"],
    ["a/b", "bad-character"],
    ["ä", "bad-character"],
    ["a'b", "bad-character"],
    ["a\nb", "bad-character"],
    ["a\0b", "bad-character"],
  ])("refuses %j as a VG name (%s)", (name, reason) => {
    expect(reasonOf(() => validateVgName(name))).toBe(reason);
    expect(reasonOf(() => validateLvName(name))).toBe(reason);
  });

  it("refuses LV names with reserved prefixes and substrings, but allows them for VGs", () => {
    expect(reasonOf(() => validateLvName("snapshot1"))).toBe("reserved-prefix");
    expect(reasonOf(() => validateLvName("pvmove0"))).toBe("reserved-prefix");
    for (const part of LV_RESERVED_SUBSTRINGS) {
      expect(reasonOf(() => validateLvName(`pool${part}x`))).toBe("reserved-substring");
    }
    expect(validateVgName("snapshot")).toBe("snapshot");
  });

  it("says what is wrong in the message", () => {
    expect(() => validateLvName("pool_tmeta")).toThrow(/logical volume name "pool_tmeta": must not contain '_tmeta'/);
    expect(() => validateVgName("a;b")).toThrow(/character ";" not allowed/);
  });

  it("validates tags and builds job tags", () => {
    expect(validateTag("bf-job-42")).toBe("bf-job-42");
    expect(validateTag("a/b=c:d+h.i_j")).toBe("a/b=c:d+h.i_j");
    expect(reasonOf(() => validateTag("a&b"))).toBe("bad-character");
    expect(jobTag(7)).toBe("bf-job-7");
    expect(reasonOf(() => validateTag("-x"))).toBe("leading-hyphen");
    expect(reasonOf(() => validateTag("a b"))).toBe("bad-character");
    expect(reasonOf(() => validateTag("@x"))).toBe("bad-character");
    expect(reasonOf(() => validateTag("t".repeat(129)))).toBe("too-long");
    expect(() => jobTag("1;rm")).toThrow(InvalidValueError);
  });

  it("builds and reads the migrated-away tag", () => {
    expect(migratedAwayTag(12)).toBe("blockferry_migrated_12");
    expect(migratedAwayJobId(migratedAwayTag(12))).toBe(12);
    for (const other of [
      "blockferry",
      "bf-job-12",
      "blockferry_migrated_",
      "blockferry_migrated_012",
      "blockferry_migrated_1x",
    ])
      expect(migratedAwayJobId(other)).toBeNull();
    expect(() => migratedAwayTag(0)).toThrow(InvalidValueError);
    expect(() => migratedAwayTag(1.5)).toThrow(InvalidValueError);
  });
});

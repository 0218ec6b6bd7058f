import { describe, expect, it } from "vitest";
import { CliApiError } from "../src/lib/api-client.ts";
import { parseBandwidth } from "../src/lib/bandwidth.ts";

const MiB = 2 ** 20;

describe("--bwlimit", () => {
  it("takes MiB/s like the wizard, with binary unit suffixes", () => {
    expect(parseBandwidth("20")).toBe(20 * MiB);
    expect(parseBandwidth("20M")).toBe(20 * MiB);
    expect(parseBandwidth("20MiB")).toBe(20 * MiB);
    expect(parseBandwidth("20mib/s")).toBe(20 * MiB);
    expect(parseBandwidth("0.5")).toBe(MiB / 2);
    expect(parseBandwidth("512K")).toBe(512 * 1024);
    expect(parseBandwidth("1.5G")).toBe(1.5 * 1024 * MiB);
    expect(parseBandwidth("1048576B")).toBe(MiB);
  });

  it("refuses what it cannot read, and a plain byte count of older versions with a hint", () => {
    for (const bad of ["", "fast", "20X", "-1", "0", "20 M B", "1e3"])
      expect(() => parseBandwidth(bad), bad).toThrow(CliApiError);
    expect(() => parseBandwidth("1048576")).toThrow(
      /a plain number is MiB\/s now; for bytes per second write 1048576B/,
    );
    expect(parseBandwidth("10000")).toBe(10_000 * MiB);
  });
});

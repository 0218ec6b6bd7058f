import { describe, expect, it } from "vitest";
import { approxSeconds, bytesWithExact, humanBytes } from "../src/units.ts";

const MiB = 1024 * 1024;

describe("humanBytes", () => {
  it("uses binary units, names them, and keeps three significant digits", () => {
    expect(humanBytes(0)).toBe("0 B");
    expect(humanBytes(1023)).toBe("1023 B");
    expect(humanBytes(1024)).toBe("1.00 KiB");
    expect(humanBytes(16908288)).toBe("16.1 MiB");
    expect(humanBytes(64 * MiB)).toBe("64.0 MiB");
    expect(humanBytes(2076180480)).toBe("1.93 GiB");
    expect(humanBytes(200 * 1024 * MiB)).toBe("200 GiB");
    expect(humanBytes(-3 * MiB)).toBe("-3.00 MiB");
    expect(humanBytes(2 ** 60)).toBe("1024 PiB");
  });
});

describe("bytesWithExact", () => {
  it("puts the exact count beside the human figure", () => {
    expect(bytesWithExact(2076180480)).toBe("1.93 GiB (2076180480 bytes)");
    expect(bytesWithExact(4 * MiB)).toBe("4.00 MiB (4194304 bytes)");
  });

  it("says a small count once", () => {
    expect(bytesWithExact(0)).toBe("0 bytes");
    expect(bytesWithExact(1)).toBe("1 byte");
    expect(bytesWithExact(1023)).toBe("1023 bytes");
  });
});

describe("approxSeconds", () => {
  it("rounds to whole seconds, then reads as a clock past a minute", () => {
    expect(approxSeconds(0.4)).toBe("under 1 s");
    expect(approxSeconds(4.2)).toBe("about 4 s");
    expect(approxSeconds(59.4)).toBe("about 59 s");
    expect(approxSeconds(59.6)).toBe("about 1:00");
    expect(approxSeconds(72)).toBe("about 1:12");
    expect(approxSeconds(3723)).toBe("about 1:02:03");
  });

  it("says unknown for what is no duration", () => {
    expect(approxSeconds(Number.NaN)).toBe("unknown");
    expect(approxSeconds(-1)).toBe("unknown");
  });
});

import { describe, expect, it } from "vitest";
import {
  ASSUMED_COPY_BYTES_PER_SECOND,
  estimateCopySeconds,
  exactBytes,
  formatApproxDuration,
  formatBytes,
  formatTime,
  humanizeString,
  humanizeText,
  stateLabel,
} from "../src/lib/format.ts";

const MiB = 1024 * 1024;

describe("formatBytes", () => {
  it("uses binary units and names them", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1024)).toBe("1.00 KiB");
    expect(formatBytes(64 * MiB)).toBe("64.0 MiB");
    expect(formatBytes(2076180480)).toBe("1.93 GiB");
    expect(formatBytes(200 * 1024 * MiB)).toBe("200 GiB");
    expect(formatBytes(-3 * MiB)).toBe("-3.00 MiB");
  });

  it("shows a dash for what is not known", () => {
    expect(formatBytes(null)).toBe("–");
    expect(formatBytes(undefined)).toBe("–");
    expect(formatBytes(Number.NaN)).toBe("–");
  });

  it("gives the exact count for the tooltip", () => {
    expect(exactBytes(2076180480, "en-US")).toBe("2,076,180,480 bytes");
    expect(exactBytes(2076180480, "de-DE")).toBe("2.076.180.480 bytes");
    expect(exactBytes(1, "en-US")).toBe("1 byte");
    expect(exactBytes(null)).toBeUndefined();
  });
});

describe("formatTime", () => {
  const at = "2026-12-02T15:04:05Z";
  it("follows the locale and spells the month out", () => {
    // Compare with Intl itself: the point is that the locale is honoured, not the exact ICU spelling.
    const de = formatTime(at, "de-DE");
    expect(de).toBe(
      new Intl.DateTimeFormat("de-DE", { dateStyle: "medium", timeStyle: "medium" }).format(new Date(at)),
    );
    expect(de).not.toBe(formatTime(at, "en-US"));
    expect(formatTime(at, "en-US")).toMatch(/Dec/);
    expect(formatTime(at, "en-US")).not.toMatch(/12\/2\/26/);
  });
  it("passes through what it cannot read", () => {
    expect(formatTime(null)).toBe("–");
    expect(formatTime("not a date")).toBe("not a date");
  });
});

describe("formatApproxDuration", () => {
  it("rounds a guess to what it can promise", () => {
    expect(formatApproxDuration(0.4)).toBe("under 1 s");
    expect(formatApproxDuration(5.12)).toBe("about 5 s");
    expect(formatApproxDuration(64)).toBe("about 1 min");
    expect(formatApproxDuration(59.7)).toBe("about 1 min");
    expect(formatApproxDuration(95)).toBe("about 2 min");
    expect(formatApproxDuration(3600)).toBe("about 1 h");
    expect(formatApproxDuration(2 * 3600 + 9 * 60)).toBe("about 2 h 10 min");
    expect(formatApproxDuration(null)).toBe("–");
  });
});

describe("estimateCopySeconds", () => {
  it("uses the assumed rate when nothing limits the copy", () => {
    const e = estimateCopySeconds(256 * MiB);
    expect(e).toEqual({ seconds: 256 / 100, bytesPerSecond: ASSUMED_COPY_BYTES_PER_SECOND, limited: false });
  });

  it("honours a bandwidth limit below the assumed rate: 64 MiB at 1 MiB/s is about a minute", () => {
    const e = estimateCopySeconds(64 * MiB, { limitBytesPerSecond: MiB });
    expect(e).toEqual({ seconds: 64, bytesPerSecond: MiB, limited: true });
    expect(formatApproxDuration(e?.seconds)).toBe("about 1 min");
  });

  it("takes the lower of the assumption and the limit", () => {
    expect(estimateCopySeconds(100 * MiB, { limitBytesPerSecond: 500 * MiB })?.seconds).toBe(1);
    expect(estimateCopySeconds(100 * MiB, { assumedBytesPerSecond: 10 * MiB, limitBytesPerSecond: 20 * MiB })).toEqual({
      seconds: 10,
      bytesPerSecond: 10 * MiB,
      limited: false,
    });
    expect(estimateCopySeconds(100 * MiB, { limitBytesPerSecond: 0 })?.limited).toBe(false);
  });

  it("has nothing to say without a size or a rate", () => {
    expect(estimateCopySeconds(null)).toBeNull();
    expect(estimateCopySeconds(MiB, { assumedBytesPerSecond: 0 })).toBeNull();
  });
});

describe("humanizeText", () => {
  it("turns raw byte counts in precheck messages into figures", () => {
    expect(humanizeText("2076180480 bytes free in vg0 for the snapshot")).toEqual([
      { bytes: 2076180480 },
      " free in vg0 for the snapshot",
    ]);
    expect(humanizeString("vg0 has 1048576 bytes free; the snapshot needs 33554432: free space in the VG")).toBe(
      "vg0 has 1.00 MiB free; the snapshot needs 32.0 MiB: free space in the VG",
    );
    expect(humanizeString("vg1/a has 1024 bytes, the source 2048: sizes must match")).toBe(
      "vg1/a has 1.00 KiB, the source 2.00 KiB: sizes must match",
    );
  });

  it("formats log lines' figures and leaves names with digits alone", () => {
    expect(humanizeString("final delta: 4194304 bytes in 3 runs")).toBe("final delta: 4.00 MiB in 3 runs");
    expect(humanizeString("bandwidth limit 52428800")).toBe("bandwidth limit 50.0 MiB/s");
    // The server's own human figure with its exact count in brackets is one figure, not two.
    expect(humanizeString("bandwidth limit 50.0 MiB/s (52428800 bytes/s)")).toBe("bandwidth limit 50.0 MiB/s");
    expect(humanizeText("1.93 GiB (2076180480 bytes) free in vg0 for the snapshot")).toEqual([
      { bytes: 2076180480 },
      " free in vg0 for the snapshot",
    ]);
    expect(humanizeString("final delta: 16.1 MiB (16908288 bytes) in 199 runs")).toBe(
      "final delta: 16.1 MiB in 199 runs",
    );
    expect(humanizeString("bandwidth limit removed")).toBe("bandwidth limit removed");
    expect(humanizeString("VM started on the target; outage 1234 ms")).toBe("VM started on the target; outage 1.2 s");
    expect(humanizeString("vg0/vm1: 10 bytes, linear")).toBe("vg0/vm1: 10 B, linear");
    expect(humanizeString("removed vg0/disk2 on web1")).toBe("removed vg0/disk2 on web1");
  });

  it("names phases and states in words, not keys", () => {
    expect(humanizeString("phase → final_delta")).toBe("phase → final delta");
    expect(humanizeString("state → waiting_cutover")).toBe(`state → ${stateLabel("waiting_cutover")}`);
    expect(humanizeString("stop_vm failed during the outage")).not.toContain("stop_vm");
    // An LV that happens to carry a phase's name in a path stays as it is.
    expect(humanizeString("created vg1/full_copy on web2")).toBe("created vg1/full_copy on web2");
    expect(humanizeString("both hosts hash with openssl-sha256")).toBe("both hosts hash with SHA-256 (openssl)");
  });

  it("shows the server's ISO times as times in the browser's words, leaving other dashes alone", () => {
    const at = "2026-12-03T09:00:00.000Z";
    expect(humanizeText(`the cutover window opens at ${at}: the VM keeps running until then`)).toEqual([
      "the cutover window opens at ",
      { at },
      ": the VM keeps running until then",
    ]);
    expect(humanizeString(`closed at ${at}`)).toBe(`closed at ${formatTime(at)}`);
    expect(humanizeString(`closed at ${at}`)).not.toContain("T09");
    expect(humanizeString("vg0/2026-12-03T09 stays")).toBe("vg0/2026-12-03T09 stays");
  });
});

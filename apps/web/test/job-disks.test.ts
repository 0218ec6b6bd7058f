import type { Migration, ProgressMessage } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { diskFigures, movedWords, setEtaSeconds, totalFigures } from "../src/lib/job-disks.ts";

const MiB = 2 ** 20;
const disk = (index: number, lv: string, o: Partial<Migration["disks"][number]> = {}): Migration["disks"][number] => ({
  index,
  source: { vg: "vg0", lv },
  target: { vg: "vg1", lv, thinPool: null },
  sizeBytes: 64 * MiB,
  kind: "classic",
  state: "copying",
  bytesTotal: 64 * MiB,
  bytesDone: 0,
  rangesTotal: 1,
  rangesDone: 0,
  sourceRemovedAt: null,
  sourceRemovedBy: null,
  ...o,
});
const progress = (disk: number | undefined, bytesDone: number, etaSeconds: number | null): ProgressMessage => ({
  jobId: 1,
  phase: "full_copy",
  ...(disk === undefined ? {} : { disk }),
  bytesDone,
  bytesTotal: 64 * MiB,
  rangesDone: 0,
  rangesTotal: 1,
  bytesPerSecond: 10 * MiB,
  etaSeconds,
  bytesStreamed: MiB,
});

describe("a migration's disks on the job pages", () => {
  const root = disk(0, "web1-root", { bytesDone: 8 * MiB });
  const data = disk(1, "web1-data", { bytesDone: 4 * MiB });

  it("names what moves: one LV, a VM's disks, or an LV and more", () => {
    const one = {
      source: { hostId: 1, vg: "vg0", lv: "web1-root" },
      disks: [root],
      vm: { controller: "none" as const },
    };
    expect(movedWords(one)).toBe("vg0/web1-root");
    expect(movedWords({ ...one, disks: [root, data], vm: { controller: "libvirt", domain: "web1" } })).toBe(
      "VM web1 · 2 disks",
    );
    expect(movedWords({ ...one, disks: [root, data] })).toBe("vg0/web1-root + 1 more disk");
    expect(movedWords({ ...one, disks: [root, data, disk(2, "x")] })).toBe("vg0/web1-root + 2 more disks");
  });

  it("takes each disk's newest progress while copying, its stored counters otherwise, and sums them", () => {
    const live = { 1: progress(1, 32 * MiB, 3) };
    const moving = diskFigures([root, data], live, true);
    expect(moving).toEqual([
      { index: 0, bytesDone: 8 * MiB, bytesTotal: 64 * MiB, bytesStreamed: 0 },
      { index: 1, bytesDone: 32 * MiB, bytesTotal: 64 * MiB, bytesStreamed: MiB },
    ]);
    expect(totalFigures(moving)).toEqual({ bytesDone: 40 * MiB, bytesTotal: 128 * MiB, bytesStreamed: MiB });
    expect(diskFigures([root, data], live, false).map((f) => f.bytesDone)).toEqual([8 * MiB, 4 * MiB]);
  });

  it("counts a verified disk as its whole size copied, not its last pass (the final delta)", () => {
    const verified = disk(0, "web1-root", { state: "verified", bytesDone: MiB, bytesTotal: MiB });
    const live = { 0: progress(0, MiB / 2, 1) };
    for (const moving of [false, true])
      expect(diskFigures([verified], live, moving)).toEqual([
        { index: 0, bytesDone: 64 * MiB, bytesTotal: 64 * MiB, bytesStreamed: 0 },
      ]);
    // Not measured yet (never the case once verified): its stored counters, as for any disk.
    expect(diskFigures([{ ...verified, sizeBytes: null }], {}, false)[0]?.bytesTotal).toBe(MiB);
  });

  it("says the set's copy ends with its slowest disk", () => {
    expect(setEtaSeconds({ 0: progress(0, 0, 12), 1: progress(1, 0, 3) }, "full_copy")).toBe(12);
    expect(setEtaSeconds({ 0: progress(0, 0, null) }, "full_copy")).toBeNull();
    expect(setEtaSeconds({ 0: progress(0, 0, 12) }, "catch_up")).toBeNull();
  });
});

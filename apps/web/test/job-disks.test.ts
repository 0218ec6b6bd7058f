import type { Migration, ProgressMessage } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { diskFigures, movedWords, passWords, setEtaSeconds, totalFigures } from "../src/lib/job-disks.ts";

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
const progress = (
  disk: number | undefined,
  bytesDone: number,
  etaSeconds: number | null,
  pass?: string,
): ProgressMessage => ({
  jobId: 1,
  phase: "full_copy",
  ...(disk === undefined ? {} : { disk }),
  ...(pass === undefined ? {} : { pass }),
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
    const live = { 1: progress(1, 32 * MiB, 3, "catchup-2") };
    const moving = diskFigures([root, data], live, true);
    expect(moving).toEqual([
      { index: 0, bytesDone: 8 * MiB, bytesTotal: 64 * MiB, bytesStreamed: 0, pass: null },
      { index: 1, bytesDone: 32 * MiB, bytesTotal: 64 * MiB, bytesStreamed: MiB, pass: "catch-up 2" },
    ]);
    expect(totalFigures(moving)).toEqual({ bytesDone: 40 * MiB, bytesTotal: 128 * MiB, bytesStreamed: MiB });
    expect(diskFigures([root, data], live, false).map((f) => f.bytesDone)).toEqual([8 * MiB, 4 * MiB]);
  });

  it("counts a verified disk as its whole size copied, not its last pass (the final delta)", () => {
    const verified = disk(0, "web1-root", { state: "verified", bytesDone: MiB, bytesTotal: MiB });
    const live = { 0: progress(0, MiB / 2, 1, "final") };
    for (const moving of [false, true])
      expect(diskFigures([verified], live, moving)).toEqual([
        { index: 0, bytesDone: 64 * MiB, bytesTotal: 64 * MiB, bytesStreamed: 0, pass: null },
      ]);
    // Not measured yet (never the case once verified): its stored counters, as for any disk.
    expect(diskFigures([{ ...verified, sizeBytes: null }], {}, false)[0]?.bytesTotal).toBe(MiB);
  });

  it("names the pass of live figures in words, as the report does; none for a name the journal does not make", () => {
    expect(passWords("full-g1")).toBe("full copy");
    expect(passWords("full-g3")).toBe("full copy again (snapshot 3)");
    expect(passWords("catchup-2")).toBe("catch-up 2");
    // A catch-up after a fallback to a full copy: the passes count again from 1.
    expect(passWords("catchup-1-f2")).toBe("catch-up 1");
    expect(passWords("final")).toBe("final delta");
    expect(passWords("final-r1")).toBe("final delta 2 (after a rollback)");
    expect(passWords("final-full")).toBe("final delta, whole volume");
    expect(passWords("final-full-r2")).toBe("final delta 3 (after a rollback), whole volume");
    // An older server sends none; a name it does not know is not shown as if it were one.
    for (const pass of [undefined, "", "full", "catchup-0", "final-f1", "catchup-2<script>", "final\n"])
      expect(passWords(pass), String(pass)).toBeNull();
  });

  it("shows the pass only while the disk's figures are live and its copies are not over", () => {
    const live = { 0: progress(0, MiB, 1, "final"), 1: progress(1, MiB, 1, "final") };
    const copied = disk(1, "web1-data", { state: "final_copied" });
    expect(diskFigures([root, copied], live, true).map((f) => f.pass)).toEqual(["final delta", null]);
    expect(diskFigures([root, copied], live, false).map((f) => f.pass)).toEqual([null, null]);
  });

  it("says the set's copy ends with its slowest disk", () => {
    expect(setEtaSeconds({ 0: progress(0, 0, 12), 1: progress(1, 0, 3) }, "full_copy")).toBe(12);
    expect(setEtaSeconds({ 0: progress(0, 0, null) }, "full_copy")).toBeNull();
    expect(setEtaSeconds({ 0: progress(0, 0, 12) }, "catch_up")).toBeNull();
  });
});

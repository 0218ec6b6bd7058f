import { describe, expect, it } from "vitest";
import {
  ParseError,
  parseDmsetupAll,
  parseDmsetupInfo,
  parseDomblklist,
  parseSnapshotStatus,
  parseSnapshotTable,
  parseThinPoolStatus,
  parseToolVersion,
  parseVirshList,
} from "../src/index.ts";

describe("dmsetup status", () => {
  it("parses a valid snapshot's allocation and an overflowed one", () => {
    expect(parseSnapshotStatus("0 2097152 snapshot 528/262144 16")).toEqual({
      state: "valid",
      allocatedSectors: 528,
      totalSectors: 262144,
      metadataSectors: 16,
      fillPercent: (528 / 262144) * 100,
    });
    expect(parseSnapshotStatus("vg0-s: 0 2097152 snapshot Invalid")).toEqual({ state: "invalid" });
    expect(parseSnapshotStatus("0 2097152 snapshot Overflow")).toEqual({ state: "overflow" });
    expect(parseSnapshotStatus("0 2097152 snapshot Merge failed")).toEqual({ state: "merge-failed" });
    expect(() => parseSnapshotStatus("0 2097152 linear")).toThrow(ParseError);
    expect(() => parseSnapshotStatus("0 2097152 snapshot 5/x 1")).toThrow(ParseError);
  });

  it("parses thin-pool status including a held metadata root", () => {
    expect(
      parseThinPoolStatus("0 131072 thin-pool 3 14/4096 20/1024 - rw no_discard_passdown queue_if_no_space - 1024"),
    ).toEqual({
      state: "ok",
      transactionId: 3,
      usedMetadataBlocks: 14,
      totalMetadataBlocks: 4096,
      usedDataBlocks: 20,
      totalDataBlocks: 1024,
      heldMetadataRoot: null,
      mode: "rw",
      needsCheck: false,
    });
    expect(
      parseThinPoolStatus(
        "0 131072 thin-pool 3 14/4096 20/1024 77 ro discard_passdown error_if_no_space needs_check 1024",
      ),
    ).toMatchObject({ heldMetadataRoot: 77, mode: "ro", needsCheck: true });
    expect(parseThinPoolStatus("0 131072 thin-pool Fail")).toEqual({ state: "fail" });
  });

  it("groups `dmsetup status` of every device by name", () => {
    const all = parseDmsetupAll(
      [
        "vg0-root: 0 2097152 linear ",
        "vg0-span: 0 1024 linear ",
        "vg0-span: 1024 2048 linear ",
        "vg0-vm1--snap: 0 2097152 snapshot 16/262144 16",
        "vg0-empty: ",
        "",
      ].join("\n"),
    );
    expect([...all.keys()]).toEqual(["vg0-root", "vg0-span", "vg0-vm1--snap", "vg0-empty"]);
    expect(all.get("vg0-span")?.map((t) => t.start)).toEqual([0, 1024]);
    expect(all.get("vg0-empty")).toEqual([]);
    expect(parseDmsetupAll("No devices found\n").size).toBe(0);
  });
});

describe("dmsetup table and info", () => {
  it("parses a snapshot table line", () => {
    expect(parseSnapshotTable("0 2097152 snapshot 253:1 253:3 P 8")).toEqual({
      lengthSectors: 2097152,
      origin: { major: 253, minor: 1 },
      cow: { major: 253, minor: 3 },
      persistent: true,
      chunkSectors: 8,
    });
    expect(parseSnapshotTable("0 8 snapshot 253:1 253:3 N 16").persistent).toBe(false);
    expect(() => parseSnapshotTable("0 8 snapshot 253:1 253:3 X 16")).toThrow(ParseError);
  });
  it("parses info rows", () => {
    expect(parseDmsetupInfo("vg0-root|253|0|LVM-abc|1|L--w\n")).toEqual([
      { name: "vg0-root", major: 253, minor: 0, uuid: "LVM-abc", openCount: 1, attr: "L--w" },
    ]);
    expect(() => parseDmsetupInfo("a|b\n")).toThrow(ParseError);
  });
});

describe("virsh, hashes, versions", () => {
  it("parses domain lists and disks", () => {
    expect(parseVirshList("web1\ndb 2\n\n")).toEqual(["web1", "db 2"]);
    const out = [
      " Type   Device   Target   Source",
      "------------------------------------------",
      " block  disk     vda      /dev/vg0/web1",
      " file   cdrom    sda      -",
      "",
    ].join("\n");
    expect(parseDomblklist(out)).toEqual([
      { type: "block", device: "disk", target: "vda", source: "/dev/vg0/web1" },
      { type: "file", device: "cdrom", target: "sda", source: null },
    ]);
  });
  it("parses version output", () => {
    expect(parseToolVersion("  LVM version:     2.03.16(2) (2022-05-18)\n")).toBe("2.03.16");
    expect(parseToolVersion("sha256sum (GNU coreutils) 9.1\n")).toBe("9.1");
    expect(parseToolVersion("nothing")).toBeNull();
  });
});

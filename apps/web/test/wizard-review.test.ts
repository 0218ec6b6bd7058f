import { describe, expect, it } from "vitest";
import { shQuote as lvmQuote, shJoin } from "../../../packages/lvm/src/quote.ts";
import { shQuote, vmCommands } from "../src/features/wizard/commands-preview.ts";
import { nameConflict, nameSettled } from "../src/features/wizard/conflicts.ts";
import { emptyDraft, type SourceVolume } from "../src/features/wizard/plan.ts";
import { diskField, FIELD, fixFor, splitCheckName } from "../src/features/wizard/precheck-fixes.ts";
import { inventory, lv, MiB, vg } from "./wizard-inventory.ts";

const hosts = { source: "lab1", target: "lab2", devices: [{ source: "/dev/vg0/web", target: "/dev/vg1/web" }] };

describe("vmCommands", () => {
  it("shows the virsh commands the libvirt controller runs, quoted as the server quotes them", () => {
    const c = vmCommands(
      { controller: "libvirt", domain: "web1", shutdownTimeoutSeconds: 60, undefineSource: true },
      hosts,
    );
    expect(c.stop.map((l) => [l.host, l.command])).toEqual([
      ["lab1", shJoin(["virsh", "--quiet", "shutdown", "web1"])],
      ["lab1", shJoin(["virsh", "--quiet", "destroy", "web1"])],
    ]);
    expect(c.stop[1]?.note).toBe("only if still running after 60 s");
    expect(c.start.map((l) => [l.host, l.command])).toEqual([
      ["lab1", shJoin(["virsh", "--quiet", "dumpxml", "--inactive", "web1"])],
      ["lab2", shJoin(["virsh", "--quiet", "define", "/dev/stdin"])],
      ["lab2", shJoin(["virsh", "--quiet", "start", "web1"])],
      ["lab1", shJoin(["virsh", "--quiet", "undefine", "web1"])],
    ]);
    expect(c.start[1]?.note).toContain("/dev/vg0/web replaced by /dev/vg1/web");
    expect(c.restart).toEqual([
      { host: "lab1", command: "'virsh' '--quiet' 'start' 'web1'", note: "unless it is running" },
    ]);
  });

  it("runs no virsh start for a maintenance move, says the VM stays shut off, and names the mapped networks", () => {
    const c = vmCommands(
      { controller: "libvirt", domain: "web1", startTarget: false, networkMap: { prod: "lab-net", br0: "br-lan" } },
      hosts,
    );
    expect(c.start.map((l) => [l.host, l.command])).toEqual([
      ["lab1", shJoin(["virsh", "--quiet", "dumpxml", "--inactive", "web1"])],
      ["lab2", shJoin(["virsh", "--quiet", "define", "/dev/stdin"])],
    ]);
    expect(c.start[1]?.note).toBe(
      "that definition, with /dev/vg0/web replaced by /dev/vg1/web, network prod replaced by lab-net, network br0 replaced by br-lan",
    );
    expect(c.startNote).toBe(
      "No virsh start: the VM stays shut off on lab2 (maintenance move); start it there yourself.",
    );
    expect(vmCommands({ controller: "libvirt", domain: "web1" }, hosts).startNote).toBeUndefined();
  });

  it("shows the operator's commands, {device} as the quoted target path, and no restart when none is given", () => {
    const c = vmCommands(
      { controller: "commands", stopSource: "vm stop", startTarget: "vm start {device} --now" },
      hosts,
    );
    expect(c.stop).toEqual([{ host: "lab1", command: "vm stop" }]);
    expect(c.start).toEqual([{ host: "lab2", command: "vm start '/dev/vg1/web' --now" }]);
    expect(c.restart).toEqual([]);
    expect(vmCommands({ controller: "none" }, hosts)).toEqual({ stop: [], start: [], restart: [] });
  });

  it("fills {devices} with every disk's target path in order, {device} with the first disk's", () => {
    const two = {
      ...hosts,
      devices: [...hosts.devices, { source: "/dev/vg0/web-data", target: "/dev/vg1/web data" }],
    };
    const c = vmCommands(
      { controller: "commands", stopSource: "vm stop", startTarget: "vm start {device} -- {devices}" },
      two,
    );
    expect(c.start).toEqual([
      { host: "lab2", command: "vm start '/dev/vg1/web' -- '/dev/vg1/web' '/dev/vg1/web data'" },
    ]);
  });

  it("quotes like packages/lvm", () => {
    for (const s of ["plain", "it's", "a b", "'", "$(x)`y`", ""]) expect(shQuote(s)).toBe(lvmQuote(s));
  });
});

describe("nameConflict", () => {
  const web: SourceVolume = { vg: "vg0", lv: "web", sizeBytes: 64 * MiB, kind: "linear", open: true };
  const inv = inventory({
    vgs: [vg("vg0", 1024 * MiB)],
    lvs: [lv("vg0", "web", { open: true }), lv("vg0", "spare"), lv("vg0", "small", { sizeBytes: 32 * MiB })],
  });
  const d = { ...emptyDraft(), sourceHostId: 1, source: web, targetHostId: 2, target: { vg: "vg0" } };

  it("is none for a free name or before the inventory is known", () => {
    expect(nameConflict({ ...d, targetLv: "new" }, inv)).toBeNull();
    expect(nameConflict({ ...d, targetLv: "web" }, undefined)).toBeNull();
  });

  it("names the source itself on the same host and VG, and never offers to reuse it", () => {
    const c = nameConflict({ ...d, targetHostId: 1, targetLv: "web" }, inv);
    expect(c).toMatchObject({ kind: "source", reusable: false, suggestion: "web-copy" });
    expect(c?.message).toBe("vg0/web is the volume you are moving: the copy needs another name.");
    expect(nameSettled(c, true)).toBe(false);
  });

  it("offers reuse only for an LV of the same size that nobody has open", () => {
    expect(nameConflict({ ...d, targetLv: "spare" }, inv)).toMatchObject({ kind: "exists", reusable: true });
    expect(nameConflict({ ...d, targetLv: "small" }, inv)?.message).toBe(
      "vg0/small already exists on the destination and cannot be reused: it has 32.0 MiB, the volume 64.0 MiB.",
    );
    expect(nameConflict({ ...d, targetLv: "web" }, inv)).toMatchObject({ reusable: false, suggestion: "web-copy" });
    expect(nameSettled(nameConflict({ ...d, targetLv: "spare" }, inv), true)).toBe(true);
    expect(nameSettled(nameConflict({ ...d, targetLv: "spare" }, inv), false)).toBe(false);
  });
});

describe("fixFor", () => {
  it("links each precheck a wizard field can fix to that field, and no other", () => {
    expect(fixFor("target name")).toMatchObject({ step: 1, field: diskField("targetLv", 0) });
    expect(fixFor("target room")).toMatchObject({ step: 1, field: diskField("target", 0) });
    expect(fixFor("source volume")).toMatchObject({ step: 0, field: FIELD.volume });
    expect(fixFor("snapshot space")).toMatchObject({ step: 1, field: FIELD.snapshotSize });
    expect(fixFor("hash tool")).toBeNull();
  });

  it("reads a disk set's check names: the disk's own fields, and the set's totals", () => {
    expect(splitCheckName("disk 1: target name")).toEqual({ disk: 1, check: "target name" });
    expect(fixFor("disk 1: target name")).toMatchObject({ step: 1, field: "wizard-target-lv-1" });
    expect(fixFor("disk 2: target room")).toMatchObject({ step: 1, field: "wizard-target-2" });
    expect(fixFor("target room (all disks)")).toMatchObject({ field: "wizard-target-0" });
    expect(fixFor("snapshot space (all disks)")).toMatchObject({ field: FIELD.snapshotSize });
  });
});

import { describe, expect, it } from "vitest";
import { sharedTargets } from "../src/features/wizard/conflicts.ts";
import {
  controllerAvailability,
  defaultTarget,
  defaultTargetHost,
  freeLvName,
  resolveDraft,
  suggestController,
  suggestTargetName,
} from "../src/features/wizard/defaults.ts";
import {
  emptyDraft,
  type SourceVolume,
  targetChoices,
  toCreateMigration,
  vmChoices,
  volumeChoices,
} from "../src/features/wizard/plan.ts";
import { host, inventory, lv, MiB, pool, vg } from "./wizard-inventory.ts";

const web: SourceVolume = { vg: "vg0", lv: "web", sizeBytes: 64 * MiB, kind: "linear", open: true };

describe("defaultTarget", () => {
  it("preselects the only VG", () => {
    const choices = targetChoices(inventory({ vgs: [vg("vg0", 1024 * MiB)] }));
    expect(defaultTarget(choices, web)).toMatchObject({ key: "vg0", vg: "vg0" });
  });

  it("preselects the VG itself on a host with one VG and a thin pool, the pool for a thin volume", () => {
    const inv = inventory({ vgs: [vg("vg1", 1024 * MiB)], thinPools: [pool("vg1", "pool1")] });
    expect(defaultTarget(targetChoices(inv), web)).toMatchObject({ key: "vg1" });
    expect(defaultTarget(targetChoices(inv), { ...web, kind: "thin" })).toMatchObject({ key: "vg1/pool1" });
  });

  it("preselects nothing where there is a real choice, and the one that fits where only one does", () => {
    const two = inventory({ vgs: [vg("vg0", 1024 * MiB), vg("vg1", 1024 * MiB)] });
    expect(defaultTarget(targetChoices(two), web)).toBeUndefined();
    const oneFits = inventory({ vgs: [vg("vg0", 8 * MiB), vg("vg1", 1024 * MiB)] });
    expect(defaultTarget(targetChoices(oneFits), web)).toMatchObject({ key: "vg1" });
    const full = inventory({ vgs: [vg("vg0", 8 * MiB)] });
    expect(defaultTarget(targetChoices(full), web)).toBeUndefined();
  });
});

describe("suggestTargetName", () => {
  const d = { sourceHostId: 1, targetHostId: 2, source: web };
  const inv = inventory({ vgs: [vg("vg0", 1024 * MiB)], lvs: [lv("vg0", "web"), lv("vg0", "web-copy")] });

  it("keeps the source's name on another host or VG", () => {
    expect(suggestTargetName(d, { vg: "vg0" }, inv)).toBe("web");
    expect(suggestTargetName({ ...d, targetHostId: 1 }, { vg: "vg1" }, inv)).toBe("web");
  });

  it("never suggests the source itself in its own VG on the same host: the first free -copy name", () => {
    expect(suggestTargetName({ ...d, targetHostId: 1 }, { vg: "vg0" }, inv)).toBe("web-copy2");
    expect(suggestTargetName({ ...d, targetHostId: 1 }, { vg: "vg0" }, inventory())).toBe("web-copy");
  });

  it("keeps a long name within LVM's 127 characters", () => {
    const long = "a".repeat(127);
    const name = freeLvName(long, new Set([long]));
    expect(name).toHaveLength(127);
    expect(name.endsWith("-copy")).toBe(true);
  });
});

describe("controllers", () => {
  it("offers libvirt only when both hosts have virsh, and says which lacks it", () => {
    const yes = inventory();
    const no = inventory({ virsh: false });
    expect(controllerAvailability({ name: "a", inventory: yes }, { name: "b", inventory: yes }).libvirt).toEqual({
      ok: true,
    });
    expect(controllerAvailability({ name: "a", inventory: yes }, { name: "b", inventory: no }).libvirt).toEqual({
      ok: false,
      reason: "virsh is not installed on b",
    });
    expect(controllerAvailability({ name: "a", inventory: no }, { name: "b", inventory: no }).libvirt.reason).toBe(
      "virsh is not installed on a or b",
    );
    expect(controllerAvailability({ name: "a", inventory: no }, { name: "a", inventory: no }).libvirt.reason).toBe(
      "virsh is not installed on a",
    );
    // Not loaded yet is not missing.
    expect(controllerAvailability({ name: "a", inventory: undefined }, { name: "b", inventory: yes }).libvirt.ok).toBe(
      true,
    );
  });

  it("suggests a controller from the volume's use: libvirt for a VM's disk, commands when open, else none", () => {
    const all = controllerAvailability({ name: "a", inventory: inventory() }, { name: "b", inventory: inventory() });
    const noVirsh = { ...all, libvirt: { ok: false, reason: "virsh is not installed on b" } };
    expect(suggestController({ ...web, domain: "web1" }, all)).toBe("libvirt");
    expect(suggestController({ ...web, domain: "web1" }, noVirsh)).toBe("commands");
    expect(suggestController(web, all)).toBe("commands");
    expect(suggestController({ ...web, open: false }, all)).toBe("none");
  });
});

describe("resolveDraft", () => {
  const hosts = [host(1, "lab1"), host(2, "lab2"), host(3, "old", "key_changed")];
  const src = inventory({ virsh: false, vgs: [vg("vg0", 512 * MiB)], lvs: [lv("vg0", "web", { open: true })] });
  const dst = inventory({ virsh: false, vgs: [vg("vg0", 1024 * MiB)] });

  it("fills the destination host, each disk's only VG and name, and the controller from the inventories", () => {
    const d = { ...emptyDraft(), sourceHostId: 1, sources: [web] };
    const plan = resolveDraft(d, { hosts, sourceInventory: src, targetInventory: dst });
    expect(plan).toMatchObject({ targetHostId: 2, pick: "lvs", controller: "commands" });
    expect(plan.disks).toEqual([
      { sourceHostId: 1, targetHostId: 2, source: web, target: { vg: "vg0" }, targetLv: "web" },
    ]);
    expect(defaultTargetHost(hosts, 1)).toBe(2);
    expect(defaultTargetHost([...hosts, host(4, "lab3")], 1)).toBeUndefined();
  });

  it("keeps what the operator chose over the defaults, disk by disk", () => {
    const data: SourceVolume = { ...web, lv: "data" };
    const d = {
      ...emptyDraft(),
      sourceHostId: 1,
      sources: [web, data],
      targetHostId: 1,
      targets: { "vg0/web": { vg: "vg0" }, "vg0/data": { vg: "vg0" } },
      targetLvs: { "vg0/web": "mine" },
      controller: "none" as const,
    };
    const plan = resolveDraft(d, { hosts, sourceInventory: src, targetInventory: src });
    expect(plan).toMatchObject({ targetHostId: 1, controller: "none" });
    expect(plan.disks.map((x) => x.targetLv)).toEqual(["mine", "data-copy"]);
    expect(
      resolveDraft({ ...d, targetLvs: {} }, { hosts, sourceInventory: src, targetInventory: src }).disks[0]?.targetLv,
    ).toBe("web-copy");
  });

  it("picks a VM when the source has libvirt domains, and suggests libvirt for that VM", () => {
    const withVm = inventory({ vgs: [vg("vg0", 512 * MiB)], domains: [] });
    const dom = { ...withVm, domains: [{ name: "web1", state: "running", disks: [], error: null, refusal: null }] };
    const d = {
      ...emptyDraft(),
      sourceHostId: 1,
      pick: undefined,
      domain: "web1",
      sources: [{ ...web, domain: "web1" }],
    };
    const plan = resolveDraft(d, { hosts, sourceInventory: dom, targetInventory: inventory() });
    expect(plan).toMatchObject({ pick: "vm", usage: { domain: "web1", open: true }, controller: "libvirt" });
    expect(plan.libvirt.domain).toBe("web1");
  });

  it("becomes a disk-set request with the snapshot size and reuse options", () => {
    const d = { ...emptyDraft(), sourceHostId: 1, sources: [web], snapshotSizeMiB: "48", reuseTarget: true };
    const body = toCreateMigration(
      resolveDraft({ ...d, controller: "none" }, { hosts, sourceInventory: src, targetInventory: dst }),
    );
    expect(body).toMatchObject({
      sourceHostId: 1,
      targetHostId: 2,
      disks: [{ source: { vg: "vg0", lv: "web" }, target: { vg: "vg0", lv: "web" } }],
    });
    expect(body?.options).toEqual({
      catchUpPasses: 0,
      snapshotSizeBytes: 48 * MiB,
      reuseTarget: true,
      dataPath: "auto",
    });
    expect(
      toCreateMigration(
        resolveDraft(
          { ...d, snapshotSizeMiB: "2", controller: "none" },
          { hosts, sourceInventory: src, targetInventory: dst },
        ),
      ),
    ).toBeNull();
  });
});

describe("the request's cutover", () => {
  const hosts = [host(1, "lab1"), host(2, "lab2")];
  const dst = inventory({ virsh: false, vgs: [vg("vg0", 1024 * MiB)] });
  const d = { ...emptyDraft(), sourceHostId: 1, sources: [web], controller: "none" as const, targetHostId: 2 };
  const body = (o: Partial<typeof d> = {}) =>
    toCreateMigration(resolveDraft({ ...d, ...o }, { hosts, sourceInventory: undefined, targetInventory: dst }));

  it("sends the short mode when no budget, pass limit or window is set", () => {
    expect(body()?.cutover).toBe("manual");
    expect(body({ cutover: "auto" })?.cutover).toBe("auto");
    // A budget typed and then manual chosen again: manual, the fields ignored.
    const typed = { ...d.cutoverPolicy, maxOutageSeconds: "5" };
    expect(body({ cutoverPolicy: typed })?.cutover).toBe("manual");
  });

  it("sends the policy object with what is set, and nothing while a field is unusable", () => {
    const policy = { ...d.cutoverPolicy, maxOutageSeconds: "5", maxPasses: "3" };
    expect(body({ cutover: "auto", cutoverPolicy: policy })?.cutover).toEqual({
      mode: "auto",
      maxOutageSeconds: 5,
      maxPasses: 3,
    });
    expect(body({ cutover: "auto", cutoverPolicy: { ...policy, maxPasses: "many" } })).toBeNull();
  });
});

describe("the request's libvirt control", () => {
  const hosts = [host(1, "lab1"), host(2, "lab2")];
  const dst = inventory({ vgs: [vg("vg0", 1024 * MiB)] });
  const d = { ...emptyDraft(), sourceHostId: 1, sources: [web], controller: "libvirt" as const, targetHostId: 2 };
  const vm = (libvirt: Partial<typeof d.libvirt> = {}) =>
    toCreateMigration(
      resolveDraft(
        { ...d, libvirt: { ...d.libvirt, domain: "web1", ...libvirt } },
        { hosts, sourceInventory: undefined, targetInventory: dst },
      ),
    )?.vm;

  it("starts the VM on the destination and maps no network by default", () => {
    expect(vm()).toEqual({
      controller: "libvirt",
      domain: "web1",
      shutdownTimeoutSeconds: 120,
      undefineSource: false,
      startTarget: true,
    });
  });

  it("sends startTarget false for a maintenance move, and the network map when one is set", () => {
    expect(vm({ startTarget: false, networkMap: { prod: "lab-net" } })).toMatchObject({
      startTarget: false,
      networkMap: { prod: "lab-net" },
    });
  });
});

describe("volumeChoices", () => {
  it("marks the kept copy of a volume already migrated away, and only that one", () => {
    const inv = inventory({ lvs: [lv("vg0", "kept", { migratedAway: { jobId: 12 } }), lv("vg0", "web")] });
    const byKey = new Map(volumeChoices(inv).map((c) => [c.key, c]));
    expect(byKey.get("vg0/kept")?.migratedAwayBy).toBe(12);
    expect(byKey.get("vg0/web")?.migratedAwayBy).toBeUndefined();
  });
});

describe("vmChoices", () => {
  it("offers each VM with its LV disks in its order, and keeps its refusal and refused disks", () => {
    const inv = inventory({
      lvs: [lv("vg0", "web1-root", { open: true }), lv("vg0", "web1-data", { kind: "thin", sizeBytes: 32 * MiB })],
      domains: [
        {
          name: "web1",
          state: "running",
          error: null,
          refusal: null,
          disks: [
            {
              type: "block",
              device: "disk",
              target: "vda",
              source: "/dev/vg0/web1-root",
              volume: { vg: "vg0", lv: "web1-root", sizeBytes: 64 * MiB, kind: "classic" },
              refused: null,
            },
            {
              type: "file",
              device: "cdrom",
              target: "sda",
              source: "/iso/x.iso",
              volume: null,
              refused: { reason: "a cdrom image", blocksVm: false },
            },
            {
              type: "block",
              device: "disk",
              target: "vdb",
              source: "/dev/vg0/web1-data",
              volume: { vg: "vg0", lv: "web1-data", sizeBytes: 32 * MiB, kind: "thin" },
              refused: null,
            },
          ],
        },
        { name: "files", state: "shut off", error: null, refusal: "disk vda: a file", disks: [] },
      ],
    });
    const [web1, files] = vmChoices(inv);
    expect(web1?.sources).toEqual([
      { vg: "vg0", lv: "web1-root", sizeBytes: 64 * MiB, kind: "linear", open: true, domain: "web1", disk: "vda" },
      { vg: "vg0", lv: "web1-data", sizeBytes: 32 * MiB, kind: "thin", open: false, domain: "web1", disk: "vdb" },
    ]);
    expect(web1?.disks.map((d) => d.refused?.reason ?? null)).toEqual([null, "a cdrom image", null]);
    expect(files).toMatchObject({ name: "files", state: "shut off", refusal: "disk vda: a file", sources: [] });
  });
});

describe("sharedTargets", () => {
  it("finds disks of one migration that would land on the same LV", () => {
    const a: SourceVolume = { ...web, vg: "vg0", lv: "data" };
    const b: SourceVolume = { ...web, vg: "vg2", lv: "data" };
    const disks = [
      { source: a, target: { vg: "vg1" }, targetLv: "data" },
      { source: b, target: { vg: "vg1" }, targetLv: "data" },
      { source: web, target: { vg: "vg1" }, targetLv: "web" },
    ];
    expect([...sharedTargets(disks)]).toEqual([[1, 0]]);
    const [first, second] = disks;
    if (!first || !second) throw new Error("two disks");
    expect(sharedTargets([first, { ...second, targetLv: "data2" }]).size).toBe(0);
  });
});

// The remote layer against a real LVM hypervisor (qemu lab): pinned key, inventory equal to what lvs/vgs and
// dmsetup say (read independently through the lab's own ssh, in the plain text format), thin-pool metadata
// snapshot reserve/release, and cancel killing the remote process.

import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { probeHostKey, RemoteCancelledError, RemoteHosts } from "../../apps/server/src/hosts/index.ts";
import {
  jobTag,
  lvcreateLinearCommand,
  lvcreateSnapshotCommand,
  lvcreateThinCommand,
  lvcreateThinPoolCommand,
  lvcreateThinSnapshotCommand,
  lvDevicePath,
  lvremoveCommand,
  shQuote,
  thinDeltaCommand,
  thinPoolMetadataSnapCommand,
  validateLvName,
  validateVgName,
} from "../../packages/lvm/src/index.ts";
import { type LabHost, labExec } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";

const { hosts: labHosts } = labPair();
const lab = labHosts[0] as LabHost;
const remote = new RemoteHosts();
const vg = validateVgName("vg0");
const suffix = Date.now().toString(36);
const origin = validateLvName(`inv-o-${suffix}`);
const snap = validateLvName(`inv-o-${suffix}-bf`);
const pool = validateLvName(`inv-p-${suffix}`);
const thin = validateLvName(`inv-t-${suffix}`);
const thinSnap = validateLvName(`inv-t-${suffix}-bf`);
const tag = jobTag(`e2e-${suffix}`);
const truth = async (command: string) => (await labExec(lab, command)).stdout;

beforeAll(async () => {
  remote.register("lab", {
    host: lab.address,
    port: lab.port,
    username: lab.user,
    privateKey: lab.privateKey,
    hostKeyFingerprint: lab.hostKeyFingerprintSha256,
  });
  for (const cmd of [
    lvcreateLinearCommand({ vg, name: origin, sizeBytes: 32 << 20, tags: [tag] }),
    lvcreateSnapshotCommand({ vg, origin, name: snap, sizeBytes: 8 << 20, chunkSizeBytes: 65536, tags: [tag] }),
    // 1 MiB into the origin: the snapshot's COW fills (16 chunks of 64 KiB plus metadata)
    `head -c 1048576 /dev/urandom | dd of=${shQuote(lvDevicePath(vg, origin))} bs=65536 count=16 iflag=fullblock oflag=direct conv=notrunc,fsync status=none`,
    lvcreateThinPoolCommand({ vg, name: pool, sizeBytes: 32 << 20, tags: [tag] }),
    lvcreateThinCommand({ vg, pool, name: thin, virtualSizeBytes: 64 << 20, tags: [tag] }),
    lvcreateThinSnapshotCommand({ vg, origin: thin, name: thinSnap, tags: [tag] }),
  ])
    await remote.exec("lab", cmd, { timeoutMs: 60_000 });
}, 180_000);

afterAll(async () => {
  for (const lv of [thinSnap, thin, pool, snap, origin])
    await remote.exec("lab", lvremoveCommand({ vg, lv }), { timeoutMs: 60_000 }).catch(() => {});
  await remote.close();
});

describe("remote layer on a real LVM host", () => {
  it("probes the same fingerprint the lab pinned", async () => {
    expect((await probeHostKey({ host: lab.address, port: lab.port })).fingerprint).toBe(lab.hostKeyFingerprintSha256);
  });

  it("inventory equals lvs/vgs/dmsetup on the host", async () => {
    const inv = await remote.inventory("lab");
    const lvLines = (
      await truth(
        "lvs --noheadings --units b --nosuffix --separator '|' -o vg_name,lv_name,lv_size,lv_attr,lv_uuid,origin,pool_lv,lv_tags",
      )
    )
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => l.split("|"));
    expect(
      inv.lvs
        .map((l) => [l.vg, l.name, String(l.sizeBytes), l.attr, l.uuid, l.origin ?? "", l.pool ?? "", l.tags.join(",")])
        .sort(),
    ).toEqual(lvLines.sort());
    const vgLine = (
      await truth("vgs --noheadings --units b --nosuffix --separator '|' -o vg_name,vg_size,vg_free,vg_extent_size vg0")
    )
      .trim()
      .split("|");
    const v = inv.vgs.find((x) => x.name === "vg0");
    expect([v?.name, String(v?.sizeBytes), String(v?.freeBytes), String(v?.extentSizeBytes)]).toEqual(vgLine);

    const s = inv.snapshots.find((x) => x.name === snap);
    const dm = (await truth(`dmsetup status vg0-${snap.replaceAll("-", "--")}`)).trim();
    const m = dm.match(/snapshot (\d+)\/(\d+) (\d+)/);
    expect(s).toMatchObject({ origin, type: "cow", state: "valid", chunkSizeBytes: 65536 });
    expect(s?.tags.slice().sort()).toEqual([tag, "blockferry"].sort()); // LVM lists tags sorted
    expect([s?.allocatedSectors, s?.totalSectors, s?.metadataSectors]).toEqual([
      Number(m?.[1]),
      Number(m?.[2]),
      Number(m?.[3]),
    ]);
    expect(s?.allocatedSectors).toBeGreaterThan(2048); // the 1 MiB we wrote went through the COW
    expect(inv.snapshots.find((x) => x.name === thinSnap)).toMatchObject({ type: "thin", origin: thin });
    expect(inv.lvs.find((x) => x.name === origin)).toMatchObject({ kind: "origin", path: `/dev/vg0/${origin}` });
    expect(inv.lvs.find((x) => x.name === thin)).toMatchObject({ kind: "thin", pool });
    expect(inv.thinPools.find((x) => x.name === pool)).toMatchObject({ heldMetadataRoot: null, mode: "rw" });
    expect(inv.tools.lvm).toMatch(/^2\.\d+/);
    expect(inv.tools.thinDelta).not.toBeNull();
    // Plain lab hosts have no virsh; VM hosts (a run with the libvirt VM tests) list the domains virsh lists.
    if (inject("labVmHosts")) {
      const names = (await truth("virsh list --all --name")).split("\n").filter((l) => l.trim());
      expect(inv.domains?.map((d) => d.name).sort()).toEqual(names.sort());
    } else expect(inv.domains).toBeNull();
  });

  it("reserve_metadata_snap shows in the inventory, thin_delta runs, release clears it", async () => {
    const ids = (await truth(`lvs --noheadings -o thin_id vg0/${thin} vg0/${thinSnap}`))
      .split("\n")
      .map((x) => Number(x.trim()))
      .filter((x) => x > 0);
    await remote.exec("lab", thinPoolMetadataSnapCommand(vg, pool, "reserve"));
    try {
      const held = (await remote.inventory("lab")).thinPools.find((x) => x.name === pool);
      expect(held?.heldMetadataRoot).not.toBeNull();
      const delta = await remote.exec("lab", thinDeltaCommand({ vg, pool, snap1: ids[0] ?? 1, snap2: ids[1] ?? 2 }));
      expect(delta.stdout).toContain("<diff left=");
    } finally {
      await remote.exec("lab", thinPoolMetadataSnapCommand(vg, pool, "release"));
    }
    expect((await remote.inventory("lab")).thinPools.find((x) => x.name === pool)?.heldMetadataRoot).toBeNull();
  });

  it("cancel kills the remote process on the hypervisor", async () => {
    const ac = new AbortController();
    const p = remote.exec("lab", "sleep 1004", { signal: ac.signal });
    const running = async () => (await truth("ps")).includes("sleep 1004");
    // Deadlines, not counts: on a loaded machine each probe is a slow ssh round trip.
    for (const deadline = Date.now() + 30_000; !(await running()) && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 100));
    expect(await running()).toBe(true);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(RemoteCancelledError);
    let gone = false;
    for (const deadline = Date.now() + 30_000; !gone && Date.now() < deadline; ) {
      gone = !(await running());
      if (!gone) await new Promise((r) => setTimeout(r, 100));
    }
    expect(gone).toBe(true);
  });
});

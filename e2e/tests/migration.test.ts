// Issue 7 end to end against real LVM hypervisors: a VM's disk moves while its workload keeps writing,
// and after cutover the target holds exactly the source's bytes. Issue 19 on the same run: the kept source LV is
// tagged as migrated away, the inventory says so, decommission refuses while the LV is open, and then removes it
// after the typed confirmation.
import type { ErrorBody, Host, Inventory, Migration, StoredEvent } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import type { apiClient } from "./support/api.ts";
import { currentLabHosts, leftovers, sh, sha256OnBoth } from "./support/lvm.ts";
import { startServerWithLabHosts, type startTestServer } from "./support/server.ts";
import { until } from "./support/wait.ts";

const { hosts } = labPair();
// Re-read: an earlier lab test may have rotated a host key.
const [lab1, lab2] = (await currentLabHosts(hosts)) as [LabHost, LabHost];

describe("migration jobs on lab hosts", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  let src: Host;
  let dst: Host;
  /** The 128 MiB migration, once it succeeded: its kept source LV is the one decommissioned. */
  let classic: Migration | undefined;
  /** A process holding the kept source LV open. */
  let holder = "";

  beforeAll(async () => {
    ({ server, api, src, dst } = await startServerWithLabHosts(lab1, lab2));
  });
  afterAll(async () => {
    if (holder) await sh(lab1, `kill ${holder} 2>/dev/null || true`);
    await sh(lab1, "bf-workload stop >/dev/null 2>&1 || true");
    await server?.close();
  });

  const phaseTimes = async (id: number) => {
    const { events } = await api.call<{ events: StoredEvent[] }>("GET", `/api/jobs/${id}/events?limit=1000`);
    const at = (phase: string) =>
      Date.parse(events.find((e) => e.type === "job.phase" && (e.data as { phase: string }).phase === phase)?.at ?? "");
    return { events, at };
  };

  it("moves a 128 MiB LV while its workload writes, with a manual cutover and a short outage", async () => {
    await sh(
      lab1,
      "lvcreate -q -y -L 128M -n vm1 vg0 && dd if=/dev/urandom of=/dev/vg0/vm1 bs=1M count=16 oflag=direct status=none",
    );
    await sh(lab1, "bf-workload start /dev/vg0/vm1 1024");
    const job = await api.createMigration({
      source: { hostId: src.id, vg: "vg0", lv: "vm1" },
      target: { hostId: dst.id, vg: "vg0" },
      vm: {
        controller: "commands",
        stopSource: "bf-workload stop",
        startSource: "bf-workload start /dev/vg0/vm1 1024",
        startTarget: "echo {device} > /run/vm-started-on-target",
      },
      cutover: "manual",
      options: { snapshotChunkKiB: 64 },
    });
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover");
    // The VM is still running on the source while we wait: its writes land in the snapshot's COW store.
    expect((await sh(lab1, "bf-workload status")).startsWith("running")).toBe(true);
    const writes = async () => Number(/writes=(\d+)/.exec(await sh(lab1, "bf-workload status"))?.[1]);
    const before = await writes();
    await until("the VM to write while the job waits", async () => (await writes()) >= before + 4);
    await api.cutover(job.id);
    const done = await api.waitFor(job.id, (m) => m.state === "succeeded");

    const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/vm1");
    expect(target).toBe(source);
    expect((await sh(lab2, "cat /run/vm-started-on-target")).trim()).toBe("/dev/vg0/vm1");
    const { at, events } = await phaseTimes(job.id);
    const fullCopyMs = at("catch_up") - at("full_copy");
    expect(done.outageMs).not.toBeNull();
    // Far below: the outage carries only the last delta (measured ~15 s against a ~70 s full copy under TCG).
    expect(done.outageMs ?? Infinity).toBeLessThan(fullCopyMs / 2);
    const finalDelta = events.find(
      (e) => e.type === "job.log" && String((e.data as { message: string }).message).startsWith("final delta"),
    );
    const delta = finalDelta?.data as { bytes: number; message: string } | undefined;
    expect(delta?.bytes).toBeGreaterThan(0);
    const outagePhases = ["stop_vm", "final_delta", "verify", "start_vm", "cleanup"]
      .slice(0, -1)
      .map((p, i, all) => `${p} ${(i + 1 < all.length ? at(all[i + 1] as string) : at("cleanup")) - at(p)} ms`);
    process.stderr.write(
      `classic: full copy ${fullCopyMs} ms, outage ${done.outageMs} ms (${outagePhases.join(", ")}), ${delta?.message}\n`,
    );
    expect(await leftovers(lab1, "vg0")).toEqual({ lvs: [], processes: [] });
    expect(await leftovers(lab2, "vg0")).toEqual({ lvs: [], processes: [] });
    // The source LV stays until an operator removes it.
    expect(await sh(lab1, "lvs --noheadings -o lv_name vg0/vm1")).toContain("vm1");
    classic = done;
  }, 600_000);

  it("tags the kept source LV, refuses it while open, then removes it", async () => {
    // The 128 MiB migration's source LV: a migration of its own would only cost another full copy.
    if (!classic) throw new Error("the 128 MiB migration did not succeed: nothing to decommission");
    const job = classic;
    const tags = async () => (await sh(lab1, "lvs --noheadings -o lv_tags vg0/vm1")).trim().split(",");
    const decommission = (confirm: string) => api.send("POST", `/api/migrations/${job.id}/decommission`, { confirm });

    expect(await tags()).toContain(`blockferry_migrated_${job.id}`);
    const inventory = await api.call<Inventory>("GET", `/api/hosts/${src.id}/inventory`);
    expect(inventory.lvs.find((l) => l.vg === "vg0" && l.name === "vm1")?.migratedAway).toEqual({ jobId: job.id });

    expect((await decommission("vg0/vm1x")).status).toBe(400);

    // Something still reads the old copy: lvs shows the open bit, and the removal is refused with the reason.
    holder = (
      await sh(lab1, "setsid sh -c 'exec 3</dev/vg0/vm1; exec sleep 300' >/dev/null 2>&1 </dev/null & echo $!")
    ).trim();
    await until("the holder to open the LV", async () =>
      (await sh(lab1, "lvs --noheadings -o lv_attr vg0/vm1")).trim().startsWith("-wi-ao"),
    );
    const open = await decommission("vg0/vm1");
    expect(open.status).toBe(409);
    expect(((await open.json()) as ErrorBody).error.details).toEqual({
      reason: "source_open",
      disks: [{ index: 0, lv: "vg0/vm1", reason: "source_open" }],
    });
    await sh(lab1, `kill ${holder}; while kill -0 ${holder} 2>/dev/null; do sleep 0.1; done`);
    holder = "";

    const ok = await decommission("vg0/vm1");
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as Migration).sourceDecommissionedAt).not.toBeNull();
    expect(await sh(lab1, "lvs --noheadings -o lv_name vg0 2>&1")).not.toMatch(/\bvm1\b/);
    // The migrated copy on the target is untouched.
    expect(await sh(lab2, "lvs --noheadings -o lv_name vg0/vm1")).toContain("vm1");
  });

  it("moves a thin LV into a thin pool with an automatic cutover", async () => {
    await sh(lab1, "lvcreate -q -y --type thin-pool -L 300M -n pool0 vg0 && lvcreate -q -y -V 64M -T vg0/pool0 -n tvm");
    await sh(lab1, "dd if=/dev/urandom of=/dev/vg0/tvm bs=1M count=16 oflag=direct status=none");
    await sh(lab2, "lvcreate -q -y --type thin-pool -L 300M -n pool0 vg0");
    await sh(lab1, "bf-workload start /dev/vg0/tvm 1024");
    const job = await api.createMigration({
      source: { hostId: src.id, vg: "vg0", lv: "tvm" },
      target: { hostId: dst.id, vg: "vg0", thinPool: "pool0" },
      vm: { controller: "commands", stopSource: "bf-workload stop", startTarget: "true" },
      cutover: "auto",
      options: { catchUpPasses: 1 },
    });
    const done = await api.waitFor(job.id, (m) => m.state === "succeeded");
    const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/tvm");
    expect(target).toBe(source);
    expect(await sh(lab2, "lvs --noheadings -o segtype vg0/tvm")).toContain("thin");
    expect(done.outageMs).not.toBeNull();
    expect(await leftovers(lab1, "vg0")).toEqual({ lvs: [], processes: [] });
    // The thin pool's metadata snapshot was released on every path.
    expect(await sh(lab1, "dmsetup status vg0-pool0-tpool")).toMatch(/ - (rw|ro)/);
  }, 600_000);

  it("catches an overflowing snapshot and falls back to a new snapshot and a full copy", async () => {
    // No room left in the VG to grow the snapshot: a busy workload overflows it.
    await sh(
      lab1,
      "lvcreate -q -y -L 64M -n ovf vg0 && dd if=/dev/urandom of=/dev/vg0/ovf bs=1M count=8 oflag=direct status=none",
    );
    const free = Number((await sh(lab1, "vgs --noheadings --units b --nosuffix -o vg_free vg0")).trim());
    await sh(lab1, `lvcreate -q -y -L ${free - 8 * 1024 * 1024}b -n filler vg0`);
    try {
      await sh(lab1, "BF_WORKLOAD_BLOCK_KIB=256 bf-workload start /dev/vg0/ovf 4096");
      const job = await api.createMigration({
        source: { hostId: src.id, vg: "vg0", lv: "ovf" },
        target: { hostId: dst.id, vg: "vg0" },
        vm: { controller: "commands", stopSource: "bf-workload stop", startTarget: "true" },
        cutover: "manual",
        options: { snapshotSizeBytes: 4 * 1024 * 1024, bandwidthLimitBytesPerSecond: 4 * 1024 * 1024 },
      });
      let seen = 0;
      const fellBack = async () => {
        const { events } = await api.call<{ events: StoredEvent[] }>("GET", `/api/jobs/${job.id}/events?limit=1000`);
        const messages = events.map((e) => `${e.type} ${JSON.stringify(e.data).slice(0, 160)}`);
        if (messages.length !== seen) process.stderr.write(`overflow job: ${messages.at(-1)}\n`);
        seen = messages.length;
        const failed = messages.find((m) => m.startsWith("job.state") && m.includes('"failed"'));
        if (failed) throw new Error(`the job failed instead of falling back: ${messages.slice(-3).join(" | ")}`);
        return messages.some((m) => m.includes("falling back"));
      };
      await expect.poll(fellBack, { timeout: 180_000, interval: 1000 }).toBe(true);
      // The writer calms down (as after a burst): the new snapshot now survives.
      await sh(lab1, "bf-workload stop && bf-workload start /dev/vg0/ovf 64");
      // The limit only kept the first copy going until the overflow: the second one may run at full speed.
      await api.call("PUT", `/api/migrations/${job.id}/bandwidth`, { bytesPerSecond: null });
      await api.waitFor(job.id, (m) => m.state === "waiting_cutover");
      await api.cutover(job.id);
      await api.waitFor(job.id, (m) => m.state === "succeeded");
      const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/ovf");
      expect(target).toBe(source);
    } finally {
      // The filler must go whatever happened: later tests need the VG's space.
      await sh(lab1, "bf-workload stop >/dev/null 2>&1 || true; lvremove -q -y vg0/filler || true");
    }
  }, 600_000);
});

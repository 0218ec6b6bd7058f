// Issue 14: a whole VM moves. A real libvirt domain (the lab's bare-metal test VM, nested TCG) with two disks, one
// classic and one thin, writing checked records to both, migrated by the libvirt controller between lab hosts:
// a failure on its second disk during the outage rolls the whole VM back; an automatic cutover moves it while it
// writes and it boots on the target with every record intact; `startTarget: false` leaves it defined and shut off
// there with each LV equal to its source. One VM serves the three, in this order: each starts where the last left it.
import type { Migration } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type LabHost, labHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import { consoleLog, diskLv, vmDefaults } from "../lab/vm/domain.ts";
import { checkVm, createVm, removeVm, vmState } from "../lab/vm/vm.ts";
import type { apiClient } from "./support/api.ts";
import { leftovers, lvsOfJob, sh, sha256 } from "./support/lvm.ts";
import { startServerWithLabHosts, type startTestServer } from "./support/server.ts";

const { hosts } = labPair();
// Re-read: an earlier lab test may have rotated a host key.
const [lab1, lab2] = (await Promise.all(hosts.map((h) => labHost(h.labDir, h.name)))) as [LabHost, LabHost];

const VG = "vg0";
const name = `mvm${process.pid}`;
/** The thin pool the thin disk goes to on each host (the VM's own pool stays its source's). */
const pool = `${name}-tp`;
const disk0 = diskLv(name, 0);
const disk1 = diskLv(name, 1);
/** The names the VM's disks get back on lab1 in the last scenario (its old LVs are still there). */
const back = [`${name}-b0`, `${name}-b1`];
const MINUTES = 60_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// Global setup boots VM hosts for a run with this file in it (BF_LAB_VM=0 says not to: then it skips).
describe.runIf(inject("labVmHosts"))("a libvirt VM with a classic and a thin disk", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  const ids = { lab1: 0, lab2: 0 };
  const figures: string[] = [];

  beforeAll(async () => {
    const t0 = Date.now();
    const [started, created] = await Promise.all([
      startServerWithLabHosts(lab1, lab2),
      createVm(lab1, { ...vmDefaults, name, disks: 2, size: "16m", thin: true }),
      ...[lab1, lab2].map((h) => sh(h, `lvcreate -q -y --type thin-pool -L 32m -n ${pool} ${VG}`)),
      // libvirtd probes its emulator's capabilities once per boot, at the first domain it meets (~10 s nested):
      // lab1 does it for createVm, lab2 would do it in case a's stop_vm. A hypervisor in service has them cached
      // (the lab's libvirtd starts afresh with each host), so lab2 asks for them now, alongside lab1's VM boot.
      sh(lab2, "virsh -q domcapabilities >/dev/null"),
    ]);
    ({ server, api } = started);
    ids.lab1 = started.src.id;
    ids.lab2 = started.dst.id;
    figures.push(
      `setup ${seconds(Date.now() - t0)} (VM first record ${seconds(created.firstRecordMs)} after virsh start began)`,
    );
  });

  afterAll(async () => {
    await server?.close();
    // Thin LVs before their pools; removeVm takes the VM's own LVs and pool. Both hosts at once.
    await Promise.all(
      [lab1, lab2].map(async (h) => {
        await removeVm(h, name);
        await sh(h, `for lv in ${back.join(" ")} ${pool}; do lvremove -q -y ${VG}/$lv >/dev/null 2>&1; done; true`);
      }),
    );
    process.stderr.write(`migration-vm: ${figures.join("; ")}\n`);
  });

  const events = async (id: number) =>
    (
      await api.call<{ events: Array<{ type: string; at: string; data: Record<string, unknown> }> }>(
        "GET",
        `/api/jobs/${id}/events?limit=1000`,
      )
    ).events;

  /** Seconds each phase took, in order ("prechecks 4.2, snapshot 3.1, ..."): where a scenario's time goes. */
  async function timeline(id: number): Promise<string> {
    const phases = (await events(id)).filter((e) => e.type === "job.phase" || e.type === "job.state");
    const parts: string[] = [];
    for (const [i, e] of phases.entries()) {
      const next = phases[i + 1];
      if (e.type !== "job.phase" || !next) continue;
      parts.push(`${e.data.phase} ${((Date.parse(next.at) - Date.parse(e.at)) / 1000).toFixed(1)}`);
    }
    return parts.join(", ");
  }

  /** The VM's disks from `from` to `to`, thin disk into the pool made for it. */
  function migrate(
    from: "lab1" | "lab2",
    to: "lab1" | "lab2",
    o: { cutover: "manual" | "auto"; targetLvs?: string[]; startTarget?: boolean },
  ): Promise<Migration> {
    return api.createMigration({
      sourceHostId: ids[from],
      targetHostId: ids[to],
      disks: [disk0, disk1].map((lv, i) => ({
        source: { vg: VG, lv },
        target: { vg: VG, lv: o.targetLvs?.[i] ?? lv, ...(i === 1 && { thinPool: pool }) },
      })),
      vm: {
        controller: "libvirt",
        domain: name,
        shutdownTimeoutSeconds: 120,
        ...(o.startTarget === false && { startTarget: false }),
      },
      cutover: o.cutover,
      options: { snapshotSizeBytes: 8 << 20 },
    });
  }

  /** LVs of this job left on a host: its snapshots, and the LVs it created among this VM's. */
  const ofJob = (host: LabHost, id: number) => lvsOfJob(host, VG, id, `${name}-`);

  /** Boots the VM has written its first record in since the console log began (one line per boot). */
  const bootsCommand = `grep -c 'bf-vm: first record written' ${consoleLog(name)} || true`;
  const boots = async (host: LabHost) => Number((await sh(host, bootsCommand)).trim());

  it(
    "rolls the whole VM back when its second disk fails during the final delta",
    async () => {
      const t0 = Date.now();
      const job = await migrate("lab1", "lab2", { cutover: "manual" });
      await api.waitFor(job.id, (m) => m.state === "waiting_cutover" || m.state === "failed", 10 * MINUTES);
      const waiting = await api.migration(job.id);
      expect(waiting.error ?? null).toBeNull();
      const bootsBefore = await boots(lab1);
      // The thin target LV of disk 1 (the job made it) refuses every write from now on. Through LVM (read-only
      // permission), not a device-mapper table swapped behind its back: LVM then cannot deactivate the LV, and the
      // rollback's removal is part of what this proves.
      await sh(lab2, `lvchange -q -p r ${VG}/${disk1}`);
      const cut = Date.now();
      await api.cutover(job.id);
      const rolled = await api.waitFor(job.id, (m) => m.state === "rolled_back" || m.state === "failed", 10 * MINUTES);
      figures.push(`a: cutover to rolled back ${seconds(Date.now() - cut)}`);
      expect(rolled.state).toBe("rolled_back");
      expect(rolled.error?.phase).toBe("final_delta");
      const log = (await events(job.id)).filter((e) => e.type === "job.log").map((e) => String(e.data.message));
      // Disk 0's final delta went through; disk 1's failed.
      expect(log.some((m) => m.startsWith(`disk 1 (${VG}/${disk1}): final delta`))).toBe(true);
      expect(log).toContain(`VM definition removed from ${lab2.name}`);
      expect(await vmState(lab1, name)).toBe("running");
      expect(await vmState(lab2, name)).toBeUndefined();
      // Running means writing again: the restarted VM's first record on the source.
      // Waited for on lab1 itself (one SSH round trip, a 0.25 s poll there): it counts from when the line appears.
      await sh(
        lab1,
        `i=0; until [ "$(${bootsCommand})" -gt ${bootsBefore} ]; do i=$((i + 1)); ` +
          `[ $i -gt 1200 ] && { echo "the VM restarted on lab1 wrote no record in 5 min" >&2; exit 1; }; sleep 0.25; done`,
      );
      figures.push(`a: cutover to records again on lab1 ${seconds(Date.now() - cut)}`);

      // The rollback removed every LV and snapshot of the job on both hosts (the failed one too): a retry starts over.
      figures.push(`a: phases ${await timeline(job.id)}`);
      expect(rolled.phase).toBe("prechecks");
      expect(await ofJob(lab1, job.id)).toEqual([]);
      const removals = log.filter((m) => m.startsWith("rollback:") || m.startsWith("removed ")).join("\n");
      expect(await ofJob(lab2, job.id), removals).toEqual([]);
      expect(log.some((m) => m.includes("(starts over: snapshots and target LVs removed)"))).toBe(true);
      expect(await vmState(lab1, name)).toBe("running");
      figures.push(`a: ${seconds(Date.now() - t0)}`);
    },
    20 * MINUTES,
  );

  it(
    "moves the VM while it writes, with an automatic cutover: it boots on lab2 with every record intact",
    async () => {
      const t0 = Date.now();
      const job = await migrate("lab1", "lab2", { cutover: "auto" });
      const done = await api.waitFor(job.id, (m) => m.state === "succeeded" || m.state === "failed", 15 * MINUTES);
      expect(done.error ?? null).toBeNull();
      expect(done.state).toBe("succeeded");
      const all = await events(job.id);
      const stopped = Number(all.find((e) => e.type === "job.vm_stopped")?.data.at);
      const outage = all.find((e) => e.type === "job.outage")?.data;
      figures.push(
        `b: migration ${seconds(Date.now() - t0)}, outage ${done.outageMs} ms (stopped ${new Date(stopped).toISOString()})`,
      );
      expect(Number(outage?.outageMs)).toBe(done.outageMs);
      // The VM wrote to both disks while they were copied: each final delta had something to send.
      const finals = all.filter((e) => e.type === "job.copied" && String(e.data.pass).startsWith("final"));
      expect(finals.map((e) => e.data.disk).sort()).toEqual([0, 1]);
      for (const f of finals) expect(Number(f.data.bytesSent)).toBeGreaterThan(0);

      expect(await vmState(lab2, name)).toBe("running");
      expect(await vmState(lab1, name)).toBe("shut off");
      const xml = await sh(lab2, `virsh -q dumpxml --inactive ${name}`);
      expect(xml).toContain(`<source dev='/dev/${VG}/${disk1}'/>`);
      const checked = Date.now();
      const check = await checkVm(lab2, name);
      figures.push(
        `b: check on lab2 ${seconds(Date.now() - checked)}: ${JSON.stringify(check.disks.map((d) => [d.lastSeq, d.torn]))}`,
      );
      expect(check.ok).toBe(true);
      expect(check.disks.map((d) => d.device)).toEqual(["/dev/hda", "/dev/hdb"]);
      for (const d of check.disks) {
        expect(d.torn).toBe(0);
        expect(d.records).toBeGreaterThan(0);
      }
      expect(await ofJob(lab1, job.id)).toEqual([]); // the snapshots are gone
      for (const h of [lab1, lab2]) expect((await leftovers(h, VG)).processes).toEqual([]);
      figures.push(`b: ${seconds(Date.now() - t0)}`, `b: phases ${await timeline(job.id)}`);
    },
    25 * MINUTES,
  );

  it(
    "with startTarget: false, defines the VM on the target and leaves it shut off, each LV equal to its source",
    async () => {
      const t0 = Date.now();
      // lab1 still has the old definition (shut off): the operator removes it before moving the VM back.
      await sh(lab1, `virsh -q undefine ${name} >/dev/null`);
      const job = await migrate("lab2", "lab1", { cutover: "auto", targetLvs: back, startTarget: false });
      const done = await api.waitFor(job.id, (m) => m.state === "succeeded" || m.state === "failed", 15 * MINUTES);
      expect(done.error ?? null).toBeNull();
      figures.push(`c: migration ${seconds(Date.now() - t0)}, stopped to defined ${done.outageMs} ms`);
      expect(await vmState(lab1, name)).toBe("shut off");
      expect(await vmState(lab2, name)).toBe("shut off");
      const xml = await sh(lab1, `virsh -q dumpxml --inactive ${name}`);
      expect(xml).toContain(`<source dev='/dev/${VG}/${back[0]}'/>`);
      expect(xml).toContain(`<source dev='/dev/${VG}/${back[1]}'/>`);
      for (const [i, lv] of [disk0, disk1].entries()) {
        const [source, target] = await Promise.all([
          sha256(lab2, `/dev/${VG}/${lv}`),
          sha256(lab1, `/dev/${VG}/${back[i]}`),
        ]);
        expect(target).toBe(source);
      }
      figures.push(`c: ${seconds(Date.now() - t0)}`, `c: phases ${await timeline(job.id)}`);
    },
    20 * MINUTES,
  );
});

// Issue 18: the server is killed (SIGKILL) at each step of stop_vm and of start_vm: before the command took
// effect, while it runs (it goes on after the server died), and after it took effect but before the server stored
// that. Six migrations, each held by its VM command at one of those six points, two at a time (one kill each
// round). After the restart every one completes, and the VM's own log shows it was never running on both hosts,
// started once on the target, never again on the source, and stopped for less than the rollback bound.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import { apiClient } from "./support/api.ts";
import {
  clockOffsetMs,
  FENCE_VM,
  type FenceEntry,
  fenceLog,
  holdAt,
  installFenceVm,
  release,
  removeFenceVm,
} from "./support/fence-vm.ts";
import { longFaults } from "./support/long-faults.ts";
import { currentLabHosts, sh } from "./support/lvm.ts";
import { freePort, killHard, type ServerProcess, spawnServer } from "./support/server-process.ts";
import { until } from "./support/wait.ts";

const { hosts } = labPair();
const [lab1, lab2] = (await currentLabHosts(hosts)) as [LabHost, LabHost];

const VG = "vg0";
const LV_BYTES = 16 << 20;
const ROLLBACK_AFTER_SECONDS = 120;

type Step = "stop" | "start";
/** Where the command waits when the server dies, and how it goes on after: skip = it never took effect. */
type Case = { lv: string; step: Step; point: "before" | "after"; resume: "go" | "skip"; label: string };
const CASES: Case[] = [
  { lv: "kstop_b", step: "stop", point: "before", resume: "skip", label: "stop_vm, before the stop command" },
  { lv: "kstop_d", step: "stop", point: "before", resume: "go", label: "stop_vm, during the stop command" },
  { lv: "kstop_a", step: "stop", point: "after", resume: "go", label: "stop_vm, after the stop command" },
  { lv: "kstart_b", step: "start", point: "before", resume: "skip", label: "start_vm, before the start command" },
  { lv: "kstart_d", step: "start", point: "before", resume: "go", label: "start_vm, during the start command" },
  { lv: "kstart_a", step: "start", point: "after", resume: "go", label: "start_vm, after the start command" },
];
/** The stop runs on the source, the start on the target. */
const hostOf = (step: Step) => (step === "stop" ? lab1 : lab2);

describe.runIf(longFaults)("server killed around the VM's stop and start", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bf-kill-"));
  const servers: ServerProcess[] = [];
  const figures: string[] = [];
  afterAll(async () => {
    for (const s of servers) await killHard(s);
    const lvs = CASES.map((c) => c.lv).join(" ");
    for (const host of [lab1, lab2]) {
      await removeFenceVm(host);
      await sh(host, `for lv in ${lvs}; do lvremove -q -y ${VG}/$lv >/dev/null 2>&1; done; true`);
    }
    rmSync(dataDir, { recursive: true, force: true });
    process.stderr.write(`server-kill: ${figures.join("; ")}\n`);
  });

  it("never runs the VM on both hosts, nor on neither past the bound, whichever step the server dies at", async () => {
    const t0 = Date.now();
    let server = await spawnServer(dataDir, await freePort());
    servers.push(server);
    let api = apiClient(server.url, server.token);
    const src = await api.addTrustedHost(lab1);
    const dst = await api.addTrustedHost(lab2);
    await installFenceVm(lab1);
    await installFenceVm(lab2);

    // The server runs at most two migrations per host: a round is one stop case and one start case, and one kill.
    for (const round of [0, 1, 2]) {
      const cases = [CASES[round], CASES[round + 3]] as [Case, Case];
      const jobs = new Map<string, number>();
      for (const c of cases) {
        await sh(
          lab1,
          `lvcreate -q -y -L ${LV_BYTES}b -n ${c.lv} ${VG} && ` +
            `dd if=/dev/urandom of=/dev/${VG}/${c.lv} bs=1M count=2 oflag=direct status=none && ${FENCE_VM} start ${c.lv}`,
        );
        await holdAt(hostOf(c.step), c.lv, c.step, c.point);
        const job = await api.createMigration({
          source: { hostId: src.id, vg: VG, lv: c.lv },
          target: { hostId: dst.id, vg: VG },
          vm: {
            controller: "commands",
            stopSource: `${FENCE_VM} stop ${c.lv}`,
            startSource: `${FENCE_VM} start ${c.lv}`,
            startTarget: `${FENCE_VM} start ${c.lv}`,
            status: `${FENCE_VM} status ${c.lv}`,
            timeoutSeconds: 900, // held by the test, not stuck
          },
          cutover: "auto",
          options: { snapshotSizeBytes: LV_BYTES, rollbackAfterSeconds: ROLLBACK_AFTER_SECONDS },
        });
        jobs.set(c.lv, job.id);
      }

      // Both commands wait at their point; then the server dies with both in flight.
      const logged = async (what: (c: Case) => string[]) => {
        const logs = [...(await fenceLog(lab1)), ...(await fenceLog(lab2))];
        return cases.every((c) => logs.some((e) => e.name === c.lv && e.action === c.step && what(c).includes(e.what)));
      };
      await until("both VM commands to wait at their point", () => logged((c) => [`held ${c.point}`]), 600_000);
      await killHard(server);
      const killedAt = Date.now();
      for (const c of cases) await release(hostOf(c.step), c.lv, c.step, c.point, c.resume);
      // The commands the dead server issued finish (or leave) on their own before a new server looks.
      await until("the orphaned commands to finish", () => logged(() => ["end", "skipped"]));

      server = await spawnServer(dataDir, await freePort());
      servers.push(server);
      api = apiClient(server.url, server.token);
      for (const c of cases) await api.waitFor(jobs.get(c.lv) ?? 0, (m) => m.state === "succeeded", 600_000);
      figures.push(`round ${round + 1}: restart to both succeeded ${Math.round((Date.now() - killedAt) / 1000)} s`);
    }
    figures.push(`total ${Math.round((Date.now() - t0) / 1000)} s`);

    const [off1, off2] = [await clockOffsetMs(lab1), await clockOffsetMs(lab2)];
    const onLab = (entries: FenceEntry[], off: number) => entries.map((e) => ({ ...e, atMs: e.atMs - off }));
    const source = onLab(await fenceLog(lab1), off1);
    const target = onLab(await fenceLog(lab2), off2);
    const pick = (log: typeof source, lv: string, action: Step, what: string) =>
      log.filter((e) => e.name === lv && e.action === action && e.what === what);

    for (const c of CASES) {
      // Started on the source once, by the test before the migration; never again there (no rollback).
      expect(pick(source, c.lv, "start", "effective"), c.label).toHaveLength(1);
      expect(pick(source, c.lv, "stop", "effective"), c.label).toHaveLength(1);
      expect(pick(target, c.lv, "start", "effective"), c.label).toHaveLength(1);
      expect(pick(target, c.lv, "start", "already running"), c.label).toHaveLength(0);
      // A start that took effect is not issued again; one that never did is, once.
      const issued = pick(target, c.lv, "start", "begin").length;
      expect(issued, c.label).toBe(c.step === "start" && c.resume === "skip" ? 2 : 1);

      const stoppedAt = pick(source, c.lv, "stop", "effective")[0]?.atMs ?? 0;
      const startedAt = pick(target, c.lv, "start", "effective")[0]?.atMs ?? 0;
      const downMs = Math.round(startedAt - stoppedAt);
      figures.push(`${c.label}: down ${downMs} ms`);
      expect(downMs, `${c.label}: started on the target after it stopped on the source`).toBeGreaterThan(0);
      expect(downMs, `${c.label}: down less than the rollback bound`).toBeLessThan(ROLLBACK_AFTER_SECONDS * 1000);
      // And as it ends: running on the target only.
      expect(await sh(lab2, `${FENCE_VM} status ${c.lv} && echo running`)).toMatch(/running/);
      expect(await sh(lab1, `${FENCE_VM} status ${c.lv} || echo stopped`)).toMatch(/stopped/);
    }
  }, 2_400_000);
});

// Issue 18: the target's storage fails during the full copy. The migration fails before any cutover with a
// message that says what failed, the VM keeps running on the source, and once the operator has fixed the target
// a retry completes with identical volumes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import type { apiClient } from "./support/api.ts";
import { longFaults } from "./support/long-faults.ts";
import { currentLabHosts, sh, sha256, sha256OnBoth } from "./support/lvm.ts";
import { startServerWithLabHosts, type startTestServer } from "./support/server.ts";
import { FULL_COPY_RANGE_MIB, rangedVolume } from "./support/volumes.ts";

const { hosts } = labPair();
const [lab1, lab2] = (await currentLabHosts(hosts)) as [LabHost, LabHost];

const VG = "vg0";
const MIB = 1024 * 1024;
const RANGE = FULL_COPY_RANGE_MIB * MIB;
/** Four full-copy ranges: one can be confirmed while others are still on their way. */
const RANGES = 4;
const VOLUME = RANGES * RANGE;

describe("target disk faults during the full copy", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  let srcId: number;
  let dstId: number;
  const sourceLvs: string[] = [];
  const targetLvs: string[] = [];
  const figures: string[] = [];

  beforeAll(async () => {
    const started = await startServerWithLabHosts(lab1, lab2);
    ({ server, api } = started);
    srcId = started.src.id;
    dstId = started.dst.id;
  });
  afterAll(async () => {
    await server?.close();
    await sh(
      lab1,
      `bf-workload stop >/dev/null 2>&1; for lv in ${sourceLvs.join(" ")}; do lvremove -q -y ${VG}/$lv >/dev/null 2>&1; done; true`,
    );
    // Thin LVs before their pool.
    await sh(lab2, `for lv in ${targetLvs.join(" ")}; do lvremove -q -y ${VG}/$lv >/dev/null 2>&1; done; true`);
    process.stderr.write(`target-disk: ${figures.join("; ")}\n`);
  });

  /** A "VM": `mib` MiB of random data on a fresh source LV (nothing for the copy to skip), the workload writing. */
  async function runningVm(lv: string, mib: number): Promise<string> {
    sourceLvs.push(lv);
    const device = `/dev/${VG}/${lv}`;
    await sh(
      lab1,
      `lvcreate -q -y -L ${mib}m -n ${lv} ${VG} && dd if=/dev/urandom of=${device} bs=1M count=${mib} oflag=direct status=none && ` +
        `bf-workload stop >/dev/null; bf-workload start ${device} 64`,
    );
    return device;
  }

  const workload = async () => (await sh(lab1, "bf-workload status || true")).trim();
  const outages = async (id: number) =>
    (await api.call<{ events: Array<{ type: string }> }>("GET", `/api/jobs/${id}/events?limit=1000`)).events.filter(
      (e) => e.type === "job.outage",
    ).length;

  it("fails with the pool's name when the target thin pool runs full, and completes once it is extended", async () => {
    const t0 = Date.now();
    const lv = "fpoolvm";
    const device = await runningVm(lv, 16);
    // A pool with room for half the volume; it errors when full instead of queueing writes for a minute.
    await sh(lab2, `lvcreate -q -y --type thin-pool -L 8m -n fpool ${VG} && lvchange -q --errorwhenfull y ${VG}/fpool`);
    targetLvs.push(lv, "fpool");
    const job = await api.createMigration({
      source: { hostId: srcId, vg: VG, lv },
      target: { hostId: dstId, vg: VG, thinPool: "fpool" },
      vm: {
        controller: "commands",
        stopSource: "bf-workload stop",
        startSource: `bf-workload start ${device} 64`,
        startTarget: "true",
      },
      cutover: "manual",
      options: { snapshotSizeBytes: 32 * MIB },
    });

    const failed = await api.waitFor(job.id, (m) => m.state === "failed", 300_000);
    figures.push(`pool full: failed after ${Math.round((Date.now() - t0) / 1000)} s`);
    expect(failed.phase).toBe("full_copy");
    expect(failed.error?.code).toBe("TARGET_POOL_FULL");
    expect(failed.error?.message).toMatch(/thin pool vg0\/fpool on lab2 is out of data space/);
    expect(failed.error?.message).toMatch(/lvextend/);
    // Never stopped: the VM runs on the source as before.
    expect(await workload()).toMatch(/^running /);
    expect(await outages(job.id)).toBe(0);

    await sh(lab2, `lvextend -q -y -L +16m ${VG}/fpool`);
    const t1 = Date.now();
    await api.retry(job.id);
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover", 300_000);
    await api.cutover(job.id);
    const done = await api.waitFor(job.id, (m) => m.state === "succeeded", 300_000);
    figures.push(`pool full: retry to done ${Math.round((Date.now() - t1) / 1000)} s, outage ${done.outageMs} ms`);
    expect(await workload()).toBe("stopped");
    const [target, source] = await sha256OnBoth(lab2, lab1, device);
    expect(target).toBe(source);
  });

  /** The job's stored events of one type. */
  const eventsOf = async (id: number, type: string) =>
    (
      await api.call<{ events: Array<{ type: string; data: Record<string, unknown> }> }>(
        "GET",
        `/api/jobs/${id}/events?limit=1000`,
      )
    ).events.filter((e) => e.type === type);

  it.runIf(longFaults)(
    "fails clearly when the target disk returns I/O errors, and a retry after healing resends nothing confirmed",
    async () => {
      const t0 = Date.now();
      const lv = "fflaky";
      sourceLvs.push(lv);
      const device = await rangedVolume(lab1, VG, lv, RANGES, 8);
      await sh(lab1, `bf-workload stop >/dev/null; bf-workload start ${device} 64`);
      // The target LV the job writes to is ours to break: dm-flakey swapped in under it, the linear table kept.
      await sh(lab2, `lvcreate -q -y -L ${VOLUME}b -n ${lv} ${VG} && dmsetup table ${VG}-${lv} >/run/${lv}.table`);
      targetLvs.push(lv);
      const job = await api.createMigration({
        source: { hostId: srcId, vg: VG, lv },
        target: { hostId: dstId, vg: VG, lv },
        vm: {
          controller: "commands",
          stopSource: "bf-workload stop",
          startSource: `bf-workload start ${device} 64`,
          startTarget: "true",
        },
        cutover: "manual",
        // A slow link: the disk breaks with a range confirmed and others still to send.
        options: { snapshotSizeBytes: 32 * MIB, reuseTarget: true, bandwidthLimitBytesPerSecond: 1 * MIB },
      });
      await api.waitFor(job.id, (m) => m.phase === "full_copy" && m.bytesDone >= RANGE, 300_000);
      // Every I/O to the target LV fails from now on (up 0 s, down 3600 s), as a dying disk's would.
      await sh(
        lab2,
        `set -- $(cat /run/${lv}.table) && dmsetup suspend ${VG}-${lv} && ` +
          `dmsetup load ${VG}-${lv} --table "$1 $2 flakey $4 $5 0 3600" && dmsetup resume ${VG}-${lv}`,
      );
      const failed = await api.waitFor(job.id, (m) => m.state === "failed", 300_000);
      figures.push(`flakey: failed after ${Math.round((Date.now() - t0) / 1000)} s: ${failed.error?.message}`);
      expect(failed.phase).toBe("full_copy");
      expect(failed.error?.code).toBe("TARGET_IO_ERROR");
      expect(failed.error?.message).toMatch(/the disk under vg0\/fflaky on lab2 returned I\/O errors/);
      expect(failed.error?.message).toMatch(/Input\/output error/);
      expect(await workload()).toMatch(/^running /);
      const confirmed = failed.bytesDone;
      expect(confirmed).toBeGreaterThanOrEqual(RANGE);
      expect(confirmed).toBeLessThan(VOLUME);

      // Healed: the linear table back.
      await sh(
        lab2,
        `dmsetup suspend ${VG}-${lv} && dmsetup load ${VG}-${lv} --table "$(cat /run/${lv}.table)" && ` +
          `dmsetup resume ${VG}-${lv} && rm -f /run/${lv}.table`,
      );
      await api.call("PUT", `/api/migrations/${job.id}/bandwidth`, { bytesPerSecond: null });
      await api.retry(job.id);
      await api.waitFor(job.id, (m) => m.state === "waiting_cutover", 300_000);
      const [copied] = await eventsOf(job.id, "job.copied");
      figures.push(`flakey: confirmed before the fault ${confirmed} bytes; the retry ${JSON.stringify(copied?.data)}`);
      // The retry resumed from the journal: the ranges confirmed before the fault were neither read nor sent again.
      expect(Number(copied?.data.rangesAlreadyDone)).toBe(confirmed / RANGE);
      expect(Number(copied?.data.bytesRead)).toBeLessThanOrEqual(VOLUME - confirmed);

      await api.cutover(job.id);
      const done = await api.waitFor(job.id, (m) => m.state === "succeeded", 300_000);
      figures.push(`flakey: total ${Math.round((Date.now() - t0) / 1000)} s, outage ${done.outageMs} ms`);
      expect(await sha256(lab2, device)).toBe(await sha256(lab1, device));
    },
    900_000,
  );
});

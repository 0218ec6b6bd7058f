// Issue 18: the source host's network drops (its NIC's link down, QMP set_link) for 30 s during the full copy.
// The copy rides it out and goes on by itself once the link is back: the job never fails, and the ranges
// confirmed before the drop are not read again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LabHost, setHostLink } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import type { apiClient } from "./support/api.ts";
import { longFaults } from "./support/long-faults.ts";
import { currentLabHosts, sh, sha256 } from "./support/lvm.ts";
import { startServerWithLabHosts, type startTestServer } from "./support/server.ts";
import { FULL_COPY_RANGE_MIB, rangedVolume } from "./support/volumes.ts";

const { hosts } = labPair();
const [lab1, lab2] = (await currentLabHosts(hosts)) as [LabHost, LabHost];

const VG = "vg0";
const MIB = 1024 * 1024;
const RANGE = FULL_COPY_RANGE_MIB * MIB;
const RANGES = 4;
const VOLUME = RANGES * RANGE;
/** How long the link stays down (the issue asks for 30 s); BLOCKFERRY_NET_DROP_SECONDS shortens it locally. */
const DROP_MS = Number(process.env.BLOCKFERRY_NET_DROP_SECONDS ?? 30) * 1000;

describe.runIf(longFaults)("network faults during the full copy", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  let srcId: number;
  let dstId: number;
  const figures: string[] = [];
  const lv = "fnet";

  beforeAll(async () => {
    const started = await startServerWithLabHosts(lab1, lab2);
    ({ server, api } = started);
    srcId = started.src.id;
    dstId = started.dst.id;
  });
  afterAll(async () => {
    await setHostLink(lab1, true); // the lab's other tests need it
    await server?.close();
    await sh(lab1, `bf-workload stop >/dev/null 2>&1; lvremove -q -y ${VG}/${lv} >/dev/null 2>&1; true`);
    await sh(lab2, `lvremove -q -y ${VG}/${lv} >/dev/null 2>&1; true`);
    process.stderr.write(`network: ${figures.join("; ")}\n`);
  });

  it("resumes the copy by itself after the source's link was down, without reading confirmed ranges again", async () => {
    const t0 = Date.now();
    const device = await rangedVolume(lab1, VG, lv, RANGES, 8);
    await sh(lab1, `bf-workload stop >/dev/null; bf-workload start ${device} 64`);
    const job = await api.createMigration({
      source: { hostId: srcId, vg: VG, lv },
      target: { hostId: dstId, vg: VG },
      vm: { controller: "commands", stopSource: "bf-workload stop", startTarget: "true" },
      cutover: "manual",
      options: { snapshotSizeBytes: 32 * MIB, bandwidthLimitBytesPerSecond: 1 * MIB },
    });
    await api.waitFor(job.id, (m) => m.phase === "full_copy" && m.bytesDone >= RANGE, 300_000);
    await setHostLink(lab1, false);
    const droppedAt = Date.now();
    const confirmedAtDrop = (await api.migration(job.id)).bytesDone;
    // The fault lasts DROP_MS: meanwhile the job must not give up.
    while (Date.now() - droppedAt < DROP_MS) {
      const m = await api.migration(job.id);
      expect(m.state, "the job while the link is down").toBe("running");
      await new Promise((r) => setTimeout(r, Math.min(1000, DROP_MS - (Date.now() - droppedAt))));
    }
    await setHostLink(lab1, true);
    const upAt = Date.now();
    figures.push(`link down ${Math.round((upAt - droppedAt) / 1000)} s with ${confirmedAtDrop} bytes confirmed`);
    // waitFor fails at once should the job end failed.
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover", 400_000);
    figures.push(`link back to copy done ${Math.round((Date.now() - upAt) / 1000)} s`);

    const events = (
      await api.call<{ events: Array<{ type: string; data: Record<string, unknown> }> }>(
        "GET",
        `/api/jobs/${job.id}/events?limit=1000`,
      )
    ).events;
    const copied = events.filter((e) => e.type === "job.copied");
    figures.push(`copy ${JSON.stringify(copied[0]?.data)}`);
    // One run, no failure and no retry by the operator; only the ranges in flight at the drop were read again.
    expect(copied).toHaveLength(1);
    expect(events.some((e) => e.type === "job.state" && e.data.state === "failed")).toBe(false);
    const rereadAtMost = VOLUME - confirmedAtDrop;
    expect(Number(copied[0]?.data.bytesRead)).toBeLessThanOrEqual(VOLUME + rereadAtMost);

    await api.cutover(job.id);
    const done = await api.waitFor(job.id, (m) => m.state === "succeeded", 300_000);
    figures.push(`total ${Math.round((Date.now() - t0) / 1000)} s, outage ${done.outageMs} ms`);
    expect(await sha256(lab2, device)).toBe(await sha256(lab1, device));
  }, 900_000);
});

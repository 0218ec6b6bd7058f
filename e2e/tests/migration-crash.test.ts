// Issue 7: the server is killed with SIGKILL during the full copy and again during the final delta; after each
// restart the job continues from its stored phase and journal and ends with identical volumes.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { apiClient } from "./support/api.ts";
import { currentLabHosts, sh, sha256 } from "./support/lvm.ts";
import { freePort, killHard, type ServerProcess, spawnServer } from "./support/server-process.ts";

const { hosts } = inject("lab");
// Re-read: an earlier lab test may have rotated a host key.
const [lab1, lab2] = (await currentLabHosts(hosts)) as [LabHost, LabHost];

describe("crash recovery", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bf-crash-"));
  // Every server this test started, killed (process group and all) however the test ends.
  const servers: ServerProcess[] = [];
  /** A crash: SIGKILL, then a new server on the same data, on a fresh port (the old one may linger in TIME_WAIT). */
  const restart = async (old: ServerProcess) => {
    await killHard(old);
    const next = await spawnServer(dataDir, await freePort());
    servers.push(next);
    return next;
  };
  afterAll(async () => {
    for (const s of servers) await killHard(s);
    await sh(lab1, "bf-workload stop >/dev/null 2>&1; lvremove -q -y vg0/crash1 >/dev/null 2>&1; true");
    await sh(lab2, "lvremove -q -y vg0/crash1 >/dev/null 2>&1; true");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("completes a migration although the server is killed during the full copy and the final delta", async () => {
    let server = await spawnServer(dataDir, await freePort());
    servers.push(server);
    let api = apiClient(server.url, server.token);
    const src = await api.addTrustedHost(lab1);
    const dst = await api.addTrustedHost(lab2);
    await sh(
      lab1,
      "lvcreate -q -y -L 64M -n crash1 vg0 && dd if=/dev/urandom of=/dev/vg0/crash1 bs=1M count=16 oflag=direct status=none",
    );
    await sh(lab1, "bf-workload start /dev/vg0/crash1 256");
    const job = await api.createMigration({
      source: { hostId: src.id, vg: "vg0", lv: "crash1" },
      target: { hostId: dst.id, vg: "vg0" },
      vm: { controller: "commands", stopSource: "bf-workload stop", startTarget: "true" },
      cutover: "manual",
      options: { bandwidthLimitBytesPerSecond: 2 * 1024 * 1024, snapshotChunkKiB: 64 },
    });

    await api.waitFor(job.id, (m) => m.phase === "full_copy" && m.state === "running");
    await new Promise((r) => setTimeout(r, 4000));
    server = await restart(server);
    api = apiClient(server.url, server.token);
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover", 400_000);
    await api.cutover(job.id);
    await api.waitFor(job.id, (m) => m.phase === "final_delta", 120_000);
    server = await restart(server);
    api = apiClient(server.url, server.token);
    const done = await api.waitFor(job.id, (m) => m.state === "succeeded", 400_000);
    expect(done.attempt).toBe(0);
    expect(await sha256(lab2, "/dev/vg0/crash1")).toBe(await sha256(lab1, "/dev/vg0/crash1"));
  }, 900_000);
});

// Issue 7: the server is killed with SIGKILL during the full copy and again during the final delta; after each
// restart the job continues from its stored phase and journal and ends with identical volumes.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import { apiClient } from "./support/api.ts";
import { currentLabHosts, sh, sha256OnBoth } from "./support/lvm.ts";
import { freePort, killHard, type ServerProcess, spawnServer } from "./support/server-process.ts";
import { until } from "./support/wait.ts";

const { hosts } = labPair();
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
    // Where the time goes, on stderr: the next trim of this test starts from these figures.
    const t0 = Date.now();
    const mark = (what: string) => process.stderr.write(`crash: ${what} at +${(Date.now() - t0) / 1000} s\n`);
    let server = await spawnServer(dataDir, await freePort());
    servers.push(server);
    let api = apiClient(server.url, server.token);
    const src = await api.addTrustedHost(lab1);
    const dst = await api.addTrustedHost(lab2);
    await sh(
      lab1,
      "lvcreate -q -y -L 32M -n crash1 vg0 && dd if=/dev/urandom of=/dev/vg0/crash1 bs=1M count=16 oflag=direct status=none",
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
    // Killed mid-copy: once the target writes what the source streams.
    await until("the target to receive the copy", async () =>
      (await sh(lab2, "ps -eo args")).split("\n").some((l) => l.startsWith("dd of=/dev/vg0/crash1 ")),
    );
    mark("first kill");
    server = await restart(server);
    api = apiClient(server.url, server.token);
    mark("restarted");
    // The limit only made the first copy last until the kill: the resumed one may run at full speed.
    await api.call("PUT", `/api/migrations/${job.id}/bandwidth`, { bytesPerSecond: null });
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover", 400_000);
    mark("waiting_cutover");
    // Slow again, so the final delta lasts until the next kill.
    await api.call("PUT", `/api/migrations/${job.id}/bandwidth`, { bytesPerSecond: 2 * 1024 * 1024 });
    await api.cutover(job.id);
    await api.waitFor(job.id, (m) => m.phase === "final_delta", 120_000);
    mark("second kill");
    server = await restart(server);
    api = apiClient(server.url, server.token);
    mark("restarted");
    const done = await api.waitFor(job.id, (m) => m.state === "succeeded", 400_000);
    mark("succeeded");
    expect(done.attempt).toBe(0);
    const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/crash1");
    expect(target).toBe(source);
  }, 900_000);
});

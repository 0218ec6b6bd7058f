// `blockferry migrate follow` against a real server in this process: a job row waiting for its cutover under another
// process's lease, and the events its runner would store (job.prediction, job.cutover_waiting, the end) appended
// through the server's event hub. Here: the lines a shell user reads while the cutover is planned.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OutagePrediction } from "@blockferry/contracts";
import type { RunningServer } from "@blockferry/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { follow } from "../src/commands/migrate.ts";
import { startServerWithOperator } from "./operator-server.ts";

const MiB = 2 ** 20;
const prediction = (outageSeconds: number, changedBytes: number): OutagePrediction => ({
  outageSeconds,
  changedBytes,
  changedRuns: 10,
  parts: { stopSeconds: 1, deltaSeconds: outageSeconds - 2, verifySeconds: 0.5, startSeconds: 0.5 },
  writeBytesPerSecond: null,
  basis: "stated defaults",
  at: new Date().toISOString(),
});

describe("blockferry migrate follow: the planned cutover", () => {
  const root = mkdtempSync(join(tmpdir(), "bf-cli-follow-"));
  let server: RunningServer;
  let token = "";
  let jobId = 0;

  beforeAll(async () => {
    ({ server, token } = await startServerWithOperator(root));
    const db = server.runtime.db.$client;
    const hostId = Number(
      db.prepare("insert into hosts (name, address) values ('hv', '127.0.0.1')").run().lastInsertRowid,
    );
    jobId = Number(
      db
        .prepare(
          "insert into jobs (state, phase, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
            "target_lv, vm, options, cutover, cutover_policy, lease_owner, lease_expires_at) values " +
            "('waiting_cutover', 'wait_cutover', ?, 'vg0', 'vm1', ?, 'vg1', 'vm1', '{\"controller\":\"none\"}', '{}', " +
            "'auto', '{\"mode\":\"auto\",\"maxOutageSeconds\":3}', 'runner-in-another-process', ?)",
        )
        .run(hostId, hostId, Date.now() + 3_600_000).lastInsertRowid,
    );
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("prints the predicted downtime when it changes and why the cutover waits, until the job ends", async () => {
    let printed = "";
    const out = { isTTY: false, write: (s: string) => (printed += s) } as unknown as NodeJS.WriteStream;
    const hub = server.runtime.hub;
    hub.append(jobId, "job.prediction", { phase: "wait_cutover", prediction: prediction(9.2, 80 * MiB) });
    // Stored again a minute later with the same downtime: not printed again.
    hub.append(jobId, "job.prediction", { phase: "wait_cutover", prediction: prediction(8.8, 81 * MiB) });
    hub.append(jobId, "job.cutover_waiting", {
      phase: "wait_cutover",
      reason: "over_budget",
      message: "about 9 s predicted, over the 3 s budget",
      until: null,
    });
    const done = follow({ base: server.url, token }, jobId, out);
    await vi.waitFor(() => expect(printed).toContain("waiting (over budget)"), { timeout: 10_000, interval: 50 });
    hub.append(jobId, "job.prediction", { phase: "wait_cutover", prediction: prediction(2.6, 12.3 * MiB) });
    // The prediction taken right before the stop is no "cut over now".
    hub.append(jobId, "job.prediction", { phase: "stop_vm", prediction: prediction(2.4, 12 * MiB) });
    server.runtime.db.$client
      .prepare("update jobs set state='succeeded', phase='done', outage_ms=2900, lease_owner=null where id=?")
      .run(jobId);
    hub.append(jobId, "job.state", { state: "succeeded", phase: "done" });
    const job = await done;
    expect(job.state).toBe("succeeded");
    expect(printed.split("\n").filter((l) => /^(cut over now|waiting)/.test(l))).toEqual([
      "cut over now: about 9 s of downtime (80.0 MiB changed)",
      "waiting (over budget): about 9 s predicted, over the 3 s budget; waits for an operator: " +
        `blockferry migrate cutover ${jobId}, or change the policy with blockferry migrate policy ${jobId}`,
      "cut over now: about 3 s of downtime (12.3 MiB changed)",
    ]);
  });
});

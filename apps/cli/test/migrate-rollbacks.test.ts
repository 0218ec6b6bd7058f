// `migrate status` (and the line after `follow`) says what each rollback discarded, from the migration's report:
// against a real server in this process, on a fresh data dir, with the job's events stored as a runner stores them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Migration } from "@blockferry/contracts";
import type { RunningServer } from "@blockferry/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { statusText } from "../src/commands/migrate.ts";
import { startServerWithOperator } from "./operator-server.ts";

const MiB = 2 ** 20;

describe("blockferry migrate status and rollbacks", () => {
  const root = mkdtempSync(join(tmpdir(), "bf-cli-rollbacks-"));
  let server: RunningServer;
  let token = "";
  let hostId = 0;

  beforeAll(async () => {
    ({ server, token } = await startServerWithOperator(root));
    hostId = Number(
      server.runtime.db.$client.prepare("insert into hosts (name, address) values ('lab2', '192.0.2.2')").run()
        .lastInsertRowid,
    );
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** A finished job's row, as a runner in another process leaves it. */
  const job = () =>
    Number(
      server.runtime.db.$client
        .prepare(
          "insert into jobs (state, phase, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
            "target_lv, vm, options) values ('succeeded', 'done', ?, 'vg0', 'vm1', ?, 'vg1', 'vm1', " +
            "'{\"controller\":\"none\"}', '{}')",
        )
        .run(hostId, hostId).lastInsertRowid,
    );
  const conn = () => ({ base: server.url, token });
  const migration = async (id: number) =>
    (await (
      await fetch(`${server.url}/api/migrations/${id}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as Migration;

  it("prints one line per rollback with the passes it discarded, and none for a job never rolled back", async () => {
    const id = job();
    const hub = server.runtime.hub;
    const copied = (pass: string, phase: Migration["phase"], bytes: number) =>
      hub.append(id, "job.copied", {
        phase,
        pass,
        rangesTotal: 1,
        rangesAlreadyDone: 0,
        bytesRead: bytes,
        bytesSent: bytes,
      });
    hub.append(id, "job.state", { state: "running", phase: "prechecks" });
    copied("full-g1", "full_copy", 64 * MiB);
    copied("catchup-1", "catch_up", 3 * MiB);
    hub.append(id, "job.rolled_back", { phase: "final_delta", reason: "lab2: connection lost", outageMs: 2500 });
    hub.append(id, "job.state", { state: "rolled_back", phase: "prechecks" });
    hub.append(id, "job.state", { state: "queued", phase: "prechecks", retry: 1 });
    copied("full-g2", "full_copy", 64 * MiB);
    hub.append(id, "job.state", { state: "succeeded", phase: "done" });
    const at = server.runtime.db.$client
      .prepare("select at from job_events where job_id = ? and type = 'job.rolled_back'")
      .pluck()
      .get(id) as string;

    const lines = (await statusText(conn(), await migration(id))).split("\n");
    expect(lines[0]).toMatch(new RegExp(`^migration ${id}: `));
    expect(lines.slice(1)).toEqual([
      `  attempt 1 rolled back ${at} in final delta (VM down 2.5 s): lab2: connection lost; ` +
        "discarded: full-g1 64.0 MiB, catchup-1 3.00 MiB",
    ]);

    const untouched = job();
    expect((await statusText(conn(), await migration(untouched))).split("\n")).toHaveLength(1);
  });
});

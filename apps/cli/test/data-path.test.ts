// The data path from the shell: `hosts migration-address` sets and clears where other hypervisors reach a host,
// `migrate follow` prints each pass's data path as the runner logs it, and the status line says what ran. Against a
// real server in this process, on a fresh data dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Migration } from "@blockferry/contracts";
import type { RunningServer } from "@blockferry/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { run as hosts } from "../src/commands/hosts.ts";
import { follow, summary } from "../src/commands/migrate.ts";
import { startServerWithOperator } from "./operator-server.ts";
import { runCommand } from "./run-cli.ts";

const REASON = "direct path not available: lab1 cannot reach lab2 at its migration address 10.77.0.2:22";

describe("blockferry and the direct data path", () => {
  const root = mkdtempSync(join(tmpdir(), "bf-cli-datapath-"));
  let server: RunningServer;
  let operatorToken = "";
  let adminToken = "";
  let hostId = 0;

  beforeAll(async () => {
    ({ server, token: operatorToken } = await startServerWithOperator(root));
    const admin = await server.runtime.auth.accounts.create({
      username: "ada",
      password: "ada password 1",
      role: "admin",
    });
    adminToken = server.runtime.auth.tokens.create(
      { name: "cli-admin", role: "admin" },
      { userId: admin.id, username: admin.username, role: admin.role, via: "session" },
      { name: "ada", address: null },
    ).token;
    hostId = Number(
      server.runtime.db.$client
        .prepare("insert into hosts (name, address, port) values ('lab2', '192.0.2.2', 2222)")
        .run().lastInsertRowid,
    );
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const cli = (args: string[], token = adminToken) =>
    runCommand(hosts, [...args, "--server", server.url], { env: { BLOCKFERRY_TOKEN: token } });

  it("hosts migration-address sets and clears it; list shows the address in effect; bad ones are refused", async () => {
    expect(await cli(["migration-address", String(hostId), "10.77.0.2"])).toEqual({
      code: 0,
      stdout: "lab2: other hosts reach it at 10.77.0.2\n",
      stderr: "",
    });
    expect((await cli(["list"])).stdout).toContain("\tmigration 10.77.0.2\n");
    expect((await cli(["migration-address", String(hostId), "--clear"])).stdout).toBe(
      "lab2: other hosts reach it at 192.0.2.2:2222 (its address)\n",
    );
    const bad = await cli(["migration-address", String(hostId), "10.77.0.2:99999"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("the port must be 1..65535");
    expect((await cli(["migration-address", String(hostId), "10.77.0.2"], operatorToken)).code).toBe(1);
    expect((await cli(["migration-address", String(hostId)])).code).toBe(2);
  });

  it("follow prints each pass's data path; the status line says what ran and why auto took the relay", async () => {
    const db = server.runtime.db.$client;
    const jobId = Number(
      db
        .prepare(
          "insert into jobs (state, phase, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
            "target_lv, vm, options, lease_owner, lease_expires_at) values ('running', 'full_copy', ?, 'vg0', " +
            "'vm1', ?, 'vg1', 'vm1', '{\"controller\":\"none\"}', '{\"dataPath\":\"auto\"}', 'runner-elsewhere', ?)",
        )
        .run(hostId, hostId, Date.now() + 3_600_000).lastInsertRowid,
    );
    const conn = { base: server.url, token: operatorToken };
    let printed = "";
    const out = { isTTY: false, write: (s: string) => (printed += s) } as unknown as NodeJS.WriteStream;
    const done = follow(conn, jobId, out);
    const hub = server.runtime.hub;
    // What a runner in another process stores: the log lines, and the passes in the job's phase state.
    hub.append(jobId, "job.log", {
      level: "warn",
      message: `full-g1: data path relay (${REASON})`,
      phase: "full_copy",
      dataPath: "relay",
    });
    await vi.waitFor(() => expect(printed).toContain("full-g1: data path relay"), { timeout: 10_000, interval: 50 });
    hub.append(jobId, "job.log", {
      level: "info",
      message: "final: data path direct",
      phase: "final_delta",
      dataPath: "direct",
    });
    db.prepare("update jobs set state='succeeded', phase='done', lease_owner=null, phase_state=? where id=?").run(
      JSON.stringify({
        dataPaths: [
          { pass: "full-g1", ran: "relay", reason: REASON },
          { pass: "final", ran: "direct" },
        ],
      }),
      jobId,
    );
    hub.append(jobId, "job.state", { state: "succeeded", phase: "done" });
    const job = await done;
    expect(printed).toContain(`full-g1: data path relay (${REASON})\n`);
    expect(printed).toContain("final: data path direct\n");
    expect(printed).not.toContain("warn: full-g1");
    expect(summary(job)).toContain("data path direct");

    const relayed: Migration = { ...job, dataPath: { ...job.dataPath, ran: "relay", reason: REASON } };
    expect(summary(relayed)).toContain(`data path relay: ${REASON}`);
  });
});

// `blockferry decommission` against a real server in this process and a real sshd whose stand-in lvs/lvremove keep
// state (test-support/lvm-stand-ins.ts). The API's own rules are tested in apps/server; here: what a shell user sees.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningServer } from "@blockferry/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../test-support/loopback-sshd.ts";
import { type LvmStandIns, writeLvmStandIns } from "../../../test-support/lvm-stand-ins.ts";
import { run as decommission } from "../src/commands/decommission.ts";
import { OPERATOR, startServerWithOperator } from "./operator-server.ts";
import { runCommand } from "./run-cli.ts";

describe("blockferry decommission", () => {
  const root = mkdtempSync(join(tmpdir(), "bf-cli-decom-"));
  let server: RunningServer;
  let sshd: LoopbackSshd;
  let lvm: LvmStandIns;
  let token = "";
  let jobId = 0;
  let hostId = 0;
  const cli = (args: string[]) =>
    runCommand(decommission, [...args, "--server", server.url], { env: { BLOCKFERRY_TOKEN: token } });

  beforeAll(async () => {
    const tools = join(root, "tools");
    mkdirSync(tools);
    lvm = writeLvmStandIns(tools);
    sshd = await startLoopbackSshd({ path: tools });
    ({ server, token } = await startServerWithOperator(root));
    const { host } = await server.runtime.registry.add({
      name: "hv-src",
      address: sshd.host,
      port: sshd.port,
      privateKey: sshd.privateKey,
    });
    await server.runtime.registry.trust(host.id, sshd.hostKeyFingerprint);
    hostId = host.id;
    jobId = Number(
      server.runtime.db.$client
        .prepare(
          "insert into jobs (state, phase, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
            "target_lv, vm, options) values ('succeeded', 'done', ?, 'vg0', 'vm1', ?, 'vg1', 'vm1', " +
            "'{\"controller\":\"none\"}', '{}')",
        )
        .run(hostId, hostId).lastInsertRowid,
    );
    lvm.setLvs([{ lv_name: "vm1", lv_tags: `blockferry_migrated_${jobId}` }]);
  });
  afterAll(async () => {
    await server?.close();
    await sshd?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("says what to type, refuses another name, then removes the LV", async () => {
    const bare = await cli([String(jobId)]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toBe(
      `blockferry decommission: confirm what is removed: blockferry decommission ${jobId} --confirm vg0/vm1\n`,
    );
    const wrong = await cli([String(jobId), "--confirm", "vg0/vm2"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("type vg0/vm1");
    expect(lvm.lvs()).toHaveLength(1);

    const ok = await cli([String(jobId), "--confirm", "vg0/vm1"]);
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout).toMatch(
      new RegExp(`^migration ${jobId}: source LV vg0/vm1 removed \\(by ${OPERATOR} \\(token \\d+\\), `),
    );
    expect(lvm.lvs()).toEqual([]);
    expect((await cli(["x"])).code).toBe(2);
  });

  it("names every disk of a VM's migration, and removes them all on one confirm", async () => {
    const sql = (q: string, ...args: unknown[]) => server.runtime.db.$client.prepare(q).run(...args);
    const id = Number(
      sql(
        "insert into jobs (state, phase, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
          "target_lv, vm, options) values ('succeeded', 'done', ?, 'vg0', 'db1-root', ?, 'vg1', 'db1-root', " +
          "'{\"controller\":\"none\"}', '{}')",
        hostId,
        hostId,
      ).lastInsertRowid,
    );
    for (const [idx, lv] of ["db1-root", "db1-data"].entries())
      sql(
        "insert into job_disks (job_id, idx, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
          "target_lv, active) values (?, ?, ?, 'vg0', ?, ?, 'vg1', ?, 0)",
        id,
        idx,
        hostId,
        lv,
        hostId,
        lv,
      );
    lvm.setLvs(["db1-root", "db1-data"].map((lv) => ({ lv_name: lv, lv_tags: `blockferry_migrated_${id}` })));
    const bare = await cli([String(id)]);
    expect(bare.stderr).toBe(
      `blockferry decommission: confirm what is removed: blockferry decommission ${id} --confirm vg0/db1-root,vg0/db1-data\n`,
    );
    const one = await cli([String(id), "--confirm", "vg0/db1-root"]);
    expect(one.code).toBe(1);
    expect(one.stderr).toContain("type vg0/db1-root,vg0/db1-data");
    expect(lvm.lvs()).toHaveLength(2);

    const ok = await cli([String(id), "--confirm", "vg0/db1-root,vg0/db1-data"]);
    expect(ok).toMatchObject({ code: 0, stderr: "" });
    expect(ok.stdout).toMatch(new RegExp(`^migration ${id}: source LVs vg0/db1-root, vg0/db1-data removed \\(by `));
    expect(lvm.lvs()).toEqual([]);
  });
});

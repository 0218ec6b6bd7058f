// POST /migrations/:id/decommission over the real app, a real migrated SQLite database and a real sshd whose PATH
// holds stateful stand-in LVM tools: the checks that guard the only LV removal Blockferry does on an LV it did
// not create, and the audit entry it leaves. Against real LVM: e2e/tests/migration.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditPage, ErrorBody, Host, Migration } from "@blockferry/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../../test-support/loopback-sshd.ts";
import { type LvmStandIns, writeLvmStandIns } from "../../../../../test-support/lvm-stand-ins.ts";
import { createJobsRepo, type NewJob } from "../../../src/db/repositories/jobs.ts";
import { hosts } from "../../../src/db/schema.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

describe("decommissioning the source LV of a migration", () => {
  const tools = mkdtempSync(join(tmpdir(), "bf-decom-"));
  let lvm: LvmStandIns;
  let sshd: LoopbackSshd;
  let t: TestApp;
  let operator: string;
  let sourceHostId: number;
  let targetHostId: number;

  beforeAll(async () => {
    lvm = writeLvmStandIns(tools);
    sshd = await startLoopbackSshd({ path: tools });
    t = await testApp();
    operator = await t.tokenFor("operator", "olga");
    const added = await t.inject({
      method: "POST",
      url: "/api/hosts",
      payload: { name: "hv-src", address: sshd.host, port: sshd.port, privateKey: sshd.privateKey },
    });
    sourceHostId = (added.json() as { host: Host }).host.id;
    const trusted = await t.inject({
      method: "POST",
      url: `/api/hosts/${sourceHostId}/trust`,
      payload: { fingerprint: sshd.hostKeyFingerprint },
    });
    expect(trusted.statusCode).toBe(200);
    // Never contacted: decommission touches the source host only.
    targetHostId = t.db
      .insert(hosts)
      .values({ name: "hv-dst", address: "127.0.0.1", port: 1, status: "trusted" })
      .returning()
      .get().id;
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(tools, { recursive: true, force: true });
  });

  const job = (o: Partial<NewJob> = {}) =>
    createJobsRepo(t.db).insert({
      sourceHostId,
      sourceVg: "vg0",
      sourceLv: "vm1",
      targetHostId,
      targetVg: "vg0",
      targetLv: "vm1",
      vm: { controller: "none" },
      options: {},
      state: "succeeded",
      phase: "done",
      ...o,
    });
  const decommission = (id: number, confirm: unknown, as = operator) =>
    t.inject({ method: "POST", url: `/api/migrations/${id}/decommission`, payload: { confirm }, as });
  const reasonOf = (res: { json(): unknown }) => (res.json() as ErrorBody).error.details as { reason?: string };
  const removals = () => lvm.calls().filter((c) => c[0] === "lvremove");
  beforeEach(() => lvm.setLvs([]));

  it("is an operator's: a viewer gets 403, nobody gets 401", async () => {
    const j = job();
    lvm.setLvs([{ lv_name: "vm1", lv_tags: `blockferry_migrated_${j.id}` }]);
    expect((await decommission(j.id, "vg0/vm1", await t.tokenFor("viewer"))).statusCode).toBe(403);
    expect((await decommission(j.id, "vg0/vm1", "anonymous")).statusCode).toBe(401);
    expect(lvm.lvs()).toHaveLength(1);
  });

  it("answers 400 unless confirm is the source vg/lv exactly, before asking the host anything", async () => {
    const j = job();
    lvm.setLvs([{ lv_name: "vm1", lv_tags: `blockferry_migrated_${j.id}` }]);
    const before = lvm.calls().length;
    for (const wrong of ["vm1", "vg0/vm2", "VG0/vm1", " vg0/vm1", "vg0/vm1\n"]) {
      const res = await decommission(j.id, wrong);
      expect(res.statusCode, JSON.stringify(wrong)).toBe(400);
      expect((res.json() as ErrorBody).error.message).toContain("type vg0/vm1");
    }
    expect((await decommission(j.id, 42)).statusCode).toBe(400);
    expect(lvm.calls()).toHaveLength(before);
  });

  it("answers 409 for a migration that did not succeed, and 404 for none", async () => {
    for (const state of ["running", "failed", "cancelled", "rolled_back"] as const) {
      const j = job({ state, phase: "final_delta", sourceLv: `vm-${state}` });
      const res = await decommission(j.id, `vg0/vm-${state}`);
      expect(res.statusCode, state).toBe(409);
      expect(reasonOf(res)).toEqual({ reason: "not_succeeded" });
    }
    expect((await decommission(9999, "vg0/vm1")).statusCode).toBe(404);
  });

  it("answers 409 when the LV is gone, not ours by tag, or open, and removes nothing", async () => {
    const j = job();
    const cases = [
      { lvs: [], reason: "source_gone", message: "vg0/vm1 on hv-src does not exist any more" },
      {
        lvs: [{ lv_name: "vm1", lv_tags: `blockferry_migrated_${j.id + 1},blockferry` }],
        reason: "not_tagged",
        message: `lvchange --addtag blockferry_migrated_${j.id} vg0/vm1`,
      },
      {
        lvs: [{ lv_name: "vm1", lv_attr: "-wi-ao----", lv_tags: `blockferry_migrated_${j.id}` }],
        reason: "source_open",
        message: "vg0/vm1 on hv-src is open",
      },
    ];
    for (const c of cases) {
      lvm.setLvs(c.lvs);
      const res = await decommission(j.id, "vg0/vm1");
      expect(res.statusCode, c.reason).toBe(409);
      expect(reasonOf(res)).toEqual({ reason: c.reason });
      expect((res.json() as ErrorBody).error.message).toContain(c.message);
    }
    expect(removals()).toEqual([]);
  });

  it("removes the tagged LV, records who and when, audits it, and refuses a second time", async () => {
    const j = job();
    lvm.setLvs([
      { lv_name: "vm1", lv_tags: `blockferry_migrated_${j.id}` },
      { lv_name: "other", lv_tags: `blockferry_migrated_${j.id}` },
    ]);
    const res = await decommission(j.id, "vg0/vm1");
    expect(res.statusCode).toBe(200);
    const m = res.json() as Migration;
    expect(m).toMatchObject({ id: j.id, state: "succeeded", sourceDecommissionedBy: expect.stringContaining("olga") });
    expect(Date.parse(m.sourceDecommissionedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    expect(removals()).toEqual([["lvremove", "--yes", "vg0/vm1"]]);
    expect(lvm.lvs().map((r) => r.lv_name)).toEqual(["other"]);

    const shown = (await t.inject({ method: "GET", url: `/api/migrations/${j.id}` })).json() as Migration;
    expect(shown.sourceDecommissionedAt).toBe(m.sourceDecommissionedAt);
    const audit = (await t.inject({ method: "GET", url: "/api/audit?limit=5" })).json() as AuditPage;
    expect(audit.entries[0]).toMatchObject({
      action: "migration.decommission",
      actor: expect.stringContaining("olga"),
      subject: `job:${j.id}`,
      details: { hostId: sourceHostId, host: "hv-src", lv: "vg0/vm1" },
    });
    const events = t.runtime.events.listAfter(0, { jobId: j.id, limit: 100 });
    expect(events.map((e) => e.data)).toContainEqual(
      expect.objectContaining({
        level: "info",
        message: expect.stringMatching(/source LV vg0\/vm1 on hv-src removed/),
      }),
    );

    const again = await decommission(j.id, "vg0/vm1");
    expect(again.statusCode).toBe(409);
    expect(reasonOf(again)).toEqual({ reason: "already_removed" });
    expect(removals()).toHaveLength(1);
  });
});

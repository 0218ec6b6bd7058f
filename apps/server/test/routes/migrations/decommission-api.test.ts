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
import { createJobDisksRepo } from "../../../src/db/repositories/job-disks.ts";
import { createJobsRepo, type ExtraDisk, type NewJob } from "../../../src/db/repositories/jobs.ts";
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

  const job = (o: Partial<NewJob> = {}, extraDisks: ExtraDisk[] = []) =>
    createJobsRepo(t.db).insert(
      {
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
      },
      extraDisks,
    );
  const decommission = (id: number, confirm: unknown, as = operator) =>
    t.inject({ method: "POST", url: `/api/migrations/${id}/decommission`, payload: { confirm }, as });
  const reasonOf = (res: { json(): unknown }) => (res.json() as ErrorBody).error.details as { reason?: string };
  const messageOf = (res: { json(): unknown }) => (res.json() as ErrorBody).error.message;
  const shown = async (id: number) =>
    (await t.inject({ method: "GET", url: `/api/migrations/${id}` })).json() as Migration;
  const audited = async (n: number) =>
    ((await t.inject({ method: "GET", url: `/api/audit?limit=${n}` })).json() as AuditPage).entries;
  /** A VM's two disks, vg0/vm1 (disk 0) and vg0/vm1-data (disk 1), moved by one job. */
  const vmJob = () => job({}, [{ sourceVg: "vg0", sourceLv: "vm1-data", targetVg: "vg0", targetLv: "vm1-data" }]);
  const tagged = (id: number, lv: string, o: Record<string, string> = {}) => ({
    lv_name: lv,
    lv_tags: `blockferry_migrated_${id}`,
    ...o,
  });
  let removedBefore = 0;
  /** The lvremove calls this test made. */
  const removals = () =>
    lvm
      .calls()
      .filter((c) => c[0] === "lvremove")
      .slice(removedBefore);
  beforeEach(() => {
    lvm.setLvs([]);
    removedBefore = 0;
    removedBefore = removals().length;
  });

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
      expect(reasonOf(res)).toEqual({ reason: c.reason, disks: [{ index: 0, lv: "vg0/vm1", reason: c.reason }] });
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

  describe("a VM's disk set", () => {
    it("removes every disk's source LV on one confirm naming them all, audited per LV", async () => {
      const j = vmJob();
      lvm.setLvs([tagged(j.id, "vm1"), tagged(j.id, "vm1-data"), { lv_name: "other" }]);
      // Disk 0's name alone is not the set: the 400 says the exact text, before the host is asked anything.
      const before = lvm.calls().length;
      for (const wrong of ["vg0/vm1", "vg0/vm1-data,vg0/vm1", "vg0/vm1, vg0/vm1-data", "vg0/vm1 vg0/vm1-data"]) {
        const res = await decommission(j.id, wrong);
        expect(res.statusCode, wrong).toBe(400);
        expect(messageOf(res)).toContain("type vg0/vm1,vg0/vm1-data");
        expect((res.json() as ErrorBody).error.details).toEqual({ expected: "vg0/vm1,vg0/vm1-data" });
      }
      expect(lvm.calls()).toHaveLength(before);

      const res = await decommission(j.id, "vg0/vm1,vg0/vm1-data");
      expect(res.statusCode).toBe(200);
      const m = res.json() as Migration;
      expect(removals()).toEqual([
        ["lvremove", "--yes", "vg0/vm1"],
        ["lvremove", "--yes", "vg0/vm1-data"],
      ]);
      expect(lvm.lvs().map((r) => r.lv_name)).toEqual(["other"]);
      expect(m.sourceDecommissionedBy).toContain("olga");
      expect(m.disks.map((d) => [d.index, d.sourceRemovedBy])).toEqual([
        [0, expect.stringContaining("olga")],
        [1, expect.stringContaining("olga")],
      ]);
      expect(m.sourceDecommissionedAt).toBe(m.disks[1]?.sourceRemovedAt);
      expect((await shown(j.id)).disks.map((d) => d.sourceRemovedAt)).toEqual(m.disks.map((d) => d.sourceRemovedAt));
      const entries = (await audited(2)).reverse();
      expect(entries.map((e) => [e.action, e.subject, e.details])).toEqual([
        ["migration.decommission", `job:${j.id}`, { hostId: sourceHostId, host: "hv-src", lv: "vg0/vm1", disk: 0 }],
        [
          "migration.decommission",
          `job:${j.id}`,
          { hostId: sourceHostId, host: "hv-src", lv: "vg0/vm1-data", disk: 1 },
        ],
      ]);
      const logged = t.runtime.events.listAfter(0, { jobId: j.id, limit: 100 }).map((e) => e.data);
      expect(logged).toContainEqual(
        expect.objectContaining({
          message: expect.stringMatching(/^disk 1: source LV vg0\/vm1-data on hv-src removed/),
        }),
      );

      const again = await decommission(j.id, "vg0/vm1,vg0/vm1-data");
      expect(again.statusCode).toBe(409);
      expect(reasonOf(again)).toEqual({ reason: "already_removed" });
      expect(messageOf(again)).toContain("vg0/vm1, vg0/vm1-data were removed already");
      expect(removals()).toHaveLength(2);
    });

    it("checks every disk before removing any: one untagged, open or busy disk keeps them all, and is named", async () => {
      const j = vmJob();
      lvm.setLvs([tagged(j.id, "vm1"), { lv_name: "vm1-data", lv_tags: "blockferry" }]);
      const res = await decommission(j.id, "vg0/vm1,vg0/vm1-data");
      expect(res.statusCode).toBe(409);
      expect(reasonOf(res)).toEqual({
        reason: "not_tagged",
        disks: [{ index: 1, lv: "vg0/vm1-data", reason: "not_tagged" }],
      });
      expect(messageOf(res)).toContain(`vg0/vm1-data on hv-src does not carry the tag blockferry_migrated_${j.id}`);
      expect(messageOf(res)).toContain("nothing removed");
      expect(messageOf(res)).not.toContain("vg0/vm1 on");

      // Both disks wrong at once: both named, in disk order.
      lvm.setLvs([tagged(j.id, "vm1", { lv_attr: "-wi-ao----" }), { lv_name: "vm1-data" }]);
      const both = await decommission(j.id, "vg0/vm1,vg0/vm1-data");
      expect(both.statusCode).toBe(409);
      expect(reasonOf(both)).toEqual({
        reason: "source_open",
        disks: [
          { index: 0, lv: "vg0/vm1", reason: "source_open" },
          { index: 1, lv: "vg0/vm1-data", reason: "not_tagged" },
        ],
      });

      // Disk 1's LV is the source of a migration still running: refused from the database, before the host.
      lvm.setLvs([tagged(j.id, "vm1"), tagged(j.id, "vm1-data")]);
      const other = job({ state: "running", phase: "full_copy", sourceLv: "vm1-data", targetLv: "vm1-data-2" });
      const calls = lvm.calls().length;
      const busy = await decommission(j.id, "vg0/vm1,vg0/vm1-data");
      expect(busy.statusCode).toBe(409);
      expect(reasonOf(busy)).toEqual({
        reason: "volume_in_use",
        disks: [{ index: 1, lv: "vg0/vm1-data", reason: "volume_in_use" }],
      });
      expect(messageOf(busy)).toContain(`vg0/vm1-data is the source of unfinished migration ${other.id}`);
      expect(lvm.calls()).toHaveLength(calls);
      createJobsRepo(t.db).updateIfState(other.id, ["running"], { state: "cancelled" });

      expect(removals()).toEqual([]);
      expect(lvm.lvs()).toHaveLength(2);
      const m = await shown(j.id);
      expect(m.sourceDecommissionedAt).toBeNull();
      expect(m.disks.map((d) => d.sourceRemovedAt)).toEqual([null, null]);
    });

    it("records a removal the server stopped in the middle of, and still refuses an LV gone without one", async () => {
      const j = vmJob();
      // The state a crash between disk 0's lvremove and its record leaves: its removal started (by ivan), its LV
      // gone; disk 1 untouched.
      createJobDisksRepo(t.db).markSourceRemovalStarted(j.id, 0, new Date().toISOString(), "ivan");
      lvm.setLvs([tagged(j.id, "vm1-data")]);
      const res = await decommission(j.id, "vg0/vm1,vg0/vm1-data");
      expect(res.statusCode).toBe(200);
      expect(removals()).toEqual([["lvremove", "--yes", "vg0/vm1-data"]]);
      const m = res.json() as Migration;
      expect(m.disks.map((d) => d.sourceRemovedBy)).toEqual(["ivan", expect.stringContaining("olga")]);
      expect(m.sourceDecommissionedAt).not.toBeNull();
      const logged = t.runtime.events.listAfter(0, { jobId: j.id, limit: 100 }).map((e) => e.data);
      expect(logged).toContainEqual(
        expect.objectContaining({
          message: expect.stringContaining(
            "disk 0: source LV vg0/vm1 on hv-src removed by ivan (its removal was not recorded before the server stopped",
          ),
        }),
      );
      const [first] = (await audited(2)).reverse();
      expect(first?.details).toEqual({
        hostId: sourceHostId,
        host: "hv-src",
        lv: "vg0/vm1",
        disk: 0,
        removedBy: "ivan",
        interrupted: true,
      });

      // Gone with no removal of ours started: someone else's doing, refused as before.
      const other = vmJob();
      lvm.setLvs([tagged(other.id, "vm1-data")]);
      const refused = await decommission(other.id, "vg0/vm1,vg0/vm1-data");
      expect(refused.statusCode).toBe(409);
      expect(reasonOf(refused)).toMatchObject({ reason: "source_gone" });
      expect(lvm.lvs().map((r) => r.lv_name)).toEqual(["vm1-data"]);
    });

    it("says which LVs a failure part-way removed and which not, and the same request again removes the rest", async () => {
      const j = job({}, [
        { sourceVg: "vg0", sourceLv: "vm1-data", targetVg: "vg0", targetLv: "vm1-data" },
        { sourceVg: "vg0", sourceLv: "vm1-logs", targetVg: "vg0", targetLv: "vm1-logs" },
      ]);
      const confirm = "vg0/vm1,vg0/vm1-data,vg0/vm1-logs";
      lvm.setLvs([tagged(j.id, "vm1"), tagged(j.id, "vm1-data"), tagged(j.id, "vm1-logs")]);
      // Something opens disk 1's LV after the checks passed: its lvremove fails as LVM's does.
      lvm.failNextRemoval("vg0/vm1-data");
      const res = await decommission(j.id, confirm);
      expect(res.statusCode).toBe(409);
      expect(reasonOf(res)).toEqual({
        reason: "remove_failed",
        removed: ["vg0/vm1"],
        notRemoved: ["vg0/vm1-data", "vg0/vm1-logs"],
      });
      expect(messageOf(res)).toContain("removed: vg0/vm1; not removed: vg0/vm1-data, vg0/vm1-logs");
      expect(messageOf(res)).not.toContain("in use."); // stderr goes to the job log, not the body
      expect(lvm.lvs().map((r) => r.lv_name)).toEqual(["vm1-data", "vm1-logs"]);
      const partly = await shown(j.id);
      expect(partly.sourceDecommissionedAt).toBeNull();
      expect(partly.disks.map((d) => d.sourceRemovedAt !== null)).toEqual([true, false, false]);
      const logged = t.runtime.events.listAfter(0, { jobId: j.id, limit: 100 }).map((e) => e.data);
      expect(logged).toContainEqual(
        expect.objectContaining({
          level: "error",
          message: expect.stringContaining("removing source LV vg0/vm1-data on hv-src failed:"),
        }),
      );

      const rest = await decommission(j.id, confirm);
      expect(rest.statusCode).toBe(200);
      expect(removals()).toEqual([
        ["lvremove", "--yes", "vg0/vm1"],
        ["lvremove", "--yes", "vg0/vm1-data"],
        ["lvremove", "--yes", "vg0/vm1-data"],
        ["lvremove", "--yes", "vg0/vm1-logs"],
      ]);
      expect(lvm.lvs()).toEqual([]);
      const m = rest.json() as Migration;
      expect(m.sourceDecommissionedAt).not.toBeNull();
      expect(m.disks[0]?.sourceRemovedAt).toBe(partly.disks[0]?.sourceRemovedAt);
      expect(m.disks.every((d) => d.sourceRemovedAt !== null)).toBe(true);
      const lvs = (await audited(3)).map((e) => (e.details as { lv: string }).lv);
      expect(lvs.sort()).toEqual(["vg0/vm1", "vg0/vm1-data", "vg0/vm1-logs"]);
    });
  });
});

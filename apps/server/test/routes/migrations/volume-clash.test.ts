import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ErrorBody, Migration } from "@blockferry/contracts";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { afterEach, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, openDb } from "../../../src/db/open.ts";
import { createJobsRepo } from "../../../src/db/repositories/jobs.ts";
import { hosts } from "../../../src/db/schema.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

/** At most one unfinished migration per source LV and per target LV, through the API and in the database itself. */
describe("migrations sharing an LV", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  const seed = () => {
    const add = (name: string) =>
      t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id;
    return [add("a"), add("b")] as const;
  };
  const body = (src: number, dst: number, o: { lv?: string; targetLv?: string } = {}) => ({
    source: { hostId: src, vg: "vg0", lv: o.lv ?? "vm1" },
    target: { hostId: dst, vg: "vg0", lv: o.targetLv ?? "vm1" },
    vm: { controller: "none" },
    options: { reuseTarget: true },
  });
  const post = (payload: object) => t.inject({ method: "POST", url: "/api/migrations", payload });
  const setState = (id: number, state: string) =>
    t.db.$client.prepare("update jobs set state=? where id=?").run(state, id);

  it("50 identical parallel POSTs: exactly one 201, the rest 409 naming the job that has the LVs", async () => {
    t = await testApp();
    const [a, b] = seed();
    const all = await Promise.all(Array.from({ length: 50 }, () => post(body(a, b))));
    const created = all.filter((r) => r.statusCode === 201);
    expect(created).toHaveLength(1);
    const winner = created[0]?.json() as Migration;
    const refused = all.filter((r) => r.statusCode === 409);
    expect(refused).toHaveLength(49);
    for (const r of refused) {
      const e = (r.json() as ErrorBody).error;
      expect(e).toMatchObject({ code: "CONFLICT", requestId: expect.any(String) });
      expect(e.message).toContain(`unfinished migration ${winner.id} (queued)`);
      expect(e.details).toMatchObject({ reason: "volume_in_use", migrationId: winner.id });
    }
    expect(t.db.$client.prepare("select count(*) as n from jobs").get()).toEqual({ n: 1 });
  });

  it("refuses a shared source alone and a shared target alone; finished jobs do not block", async () => {
    t = await testApp();
    const [a, b] = seed();
    const first = (await post(body(a, b))).json() as Migration;
    const sameSource = await post(body(a, b, { targetLv: "other" }));
    expect(sameSource.statusCode).toBe(409);
    expect(sameSource.json().error.message).toMatch(/vg0\/vm1 on a is the source of unfinished migration/);
    const sameTarget = await post(body(a, b, { lv: "vm2" }));
    expect(sameTarget.statusCode).toBe(409);
    expect(sameTarget.json().error.message).toMatch(/vg0\/vm1 on b is the target of unfinished migration/);
    for (const finished of ["succeeded", "cancelled", "rolled_back"]) {
      setState(first.id, finished);
      const again = await post(body(a, b));
      expect([finished, again.statusCode]).toEqual([finished, 201]);
      setState((again.json() as Migration).id, "succeeded");
    }
  });

  it("a failed job cannot be retried or cancelled into a second user of an LV another job has taken", async () => {
    t = await testApp();
    const [a, b] = seed();
    const old = (await post(body(a, b))).json() as Migration;
    setState(old.id, "failed");
    const taken = (await post(body(a, b))).json() as Migration;
    for (const action of ["retry", "cancel"]) {
      const res = await t.inject({ method: "POST", url: `/api/migrations/${old.id}/${action}` });
      expect([action, res.statusCode]).toEqual([action, 409]);
      expect(res.json().error.message).toContain(`unfinished migration ${taken.id}`);
    }
    expect(t.db.$client.prepare("select state from jobs where id=?").get(old.id)).toEqual({ state: "failed" });
  });

  it("the database itself refuses a second unfinished job on one LV, whoever writes it", async () => {
    t = await testApp();
    const [a, b] = seed();
    const repo = createJobsRepo(t.db);
    const job = {
      sourceHostId: a,
      sourceVg: "vg0",
      sourceLv: "vm1",
      targetHostId: b,
      targetVg: "vg0",
      targetLv: "vm1",
      vm: { controller: "none" as const },
      options: {},
    };
    const first = repo.insert(job);
    expect(() => repo.insert({ ...job, targetLv: "x" })).toThrow(/UNIQUE constraint failed/);
    expect(() => repo.insert({ ...job, sourceLv: "x" })).toThrow(/UNIQUE constraint failed/);
    repo.updateIfState(first.id, ["queued"], { state: "succeeded" });
    expect(repo.insert(job).id).toBeGreaterThan(first.id);
  });
});

describe("upgrading a database that already has two unfinished jobs on one LV", () => {
  it("fails the newer job with the reason, so the unique indexes can be built", () => {
    const dir = mkdtempSync(join(tmpdir(), "bf-upgrade-"));
    try {
      // The database as the first migration left it, with the duplicates the old code let in.
      const old = join(dir, "migrations-0000");
      mkdirSync(join(old, "meta"), { recursive: true });
      copyFileSync(join(MIGRATIONS_DIR, "0000_init.sql"), join(old, "0000_init.sql"));
      const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, "meta", "_journal.json"), "utf8"));
      journal.entries = journal.entries.slice(0, 1);
      writeFileSync(join(old, "meta", "_journal.json"), JSON.stringify(journal));
      const sqlite = new Database(join(dir, "old.db"));
      migrate(drizzle(sqlite), { migrationsFolder: old });
      sqlite.exec("insert into hosts (name, address) values ('a', 'x'), ('b', 'x')");
      const job = sqlite.prepare(
        "insert into jobs (state, source_host_id, source_vg, source_lv, target_host_id, target_vg, target_lv, vm, options)" +
          " values (?, 1, 'vg0', ?, 2, 'vg0', ?, '{}', '{}')",
      );
      job.run("running", "vm1", "vm1");
      job.run("queued", "vm1", "other"); // same source
      job.run("queued", "vm2", "vm1"); // same target
      job.run("succeeded", "vm1", "vm1"); // finished: left alone
      job.run("queued", "vm3", "vm3"); // shares nothing
      sqlite.close();
      const db = openDb(join(dir, "old.db"));
      const rows = db.$client.prepare("select id, state, error from jobs order by id").all() as Array<{
        id: number;
        state: string;
        error: string | null;
      }>;
      db.$client.close();
      expect(rows.map((r) => r.state)).toEqual(["running", "failed", "failed", "succeeded", "queued"]);
      expect(JSON.parse(rows[1]?.error ?? "{}")).toMatchObject({
        code: "DUPLICATE_MIGRATION",
        message: expect.stringContaining("same source or target LV"),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

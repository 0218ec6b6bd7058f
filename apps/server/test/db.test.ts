import { afterEach, describe, expect, it } from "vitest";
import { createEventsRepo } from "../src/db/repositories/events.ts";
import { hosts, jobs } from "../src/db/schema.ts";
import { tempDb } from "./helpers.ts";

describe("openDb", () => {
  let t: ReturnType<typeof tempDb>;
  afterEach(() => t.cleanup());

  it("applies the migrations and sets WAL, foreign keys and a busy timeout", () => {
    t = tempDb();
    const c = t.db.$client;
    expect(c.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(c.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(c.pragma("busy_timeout", { simple: true })).toBe(5000);
    const tables = c
      .prepare("select name from sqlite_master where type='table' order by name")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(tables).toEqual(
      expect.arrayContaining(["hosts", "jobs", "job_events", "transfer_ranges", "job_objects", "audit_log"]),
    );
  });

  it("enforces foreign keys: a job cannot name a host that does not exist", () => {
    t = tempDb();
    expect(() =>
      t.db
        .insert(jobs)
        .values({
          sourceHostId: 99,
          sourceVg: "vg",
          sourceLv: "lv",
          targetHostId: 98,
          targetVg: "vg",
          targetLv: "lv",
          vm: { controller: "none" },
          options: {},
        })
        .run(),
    ).toThrow(/FOREIGN KEY/);
  });

  it("numbers events per job and globally", () => {
    t = tempDb();
    const h = t.db.insert(hosts).values({ name: "a", address: "127.0.0.1" }).returning().get();
    const mkJob = (lv: string) =>
      t.db
        .insert(jobs)
        .values({
          sourceHostId: h.id,
          sourceVg: "vg",
          sourceLv: lv,
          targetHostId: h.id,
          targetVg: "vg2",
          targetLv: lv,
          vm: { controller: "none" },
          options: {},
        })
        .returning()
        .get();
    const j1 = mkJob("lv1");
    const j2 = mkJob("lv2");
    const repo = createEventsRepo(t.db);
    const a = repo.append(j1.id, "x", { n: 1 });
    const b = repo.append(j2.id, "x", { n: 2 });
    const c = repo.append(j1.id, "x", { n: 3 });
    const d = repo.append(null, "host.added", {});
    expect([a.seq, b.seq, c.seq, d.seq]).toEqual([1, 1, 2, 1]);
    expect([a.id, b.id, c.id, d.id]).toEqual([1, 2, 3, 4]);
    expect(repo.listAfter(1, { jobId: j1.id, limit: 10 }).map((e) => e.data)).toEqual([{ n: 3 }]);
    expect(repo.listAfter(0, { limit: 10 })).toHaveLength(4);
  });
});

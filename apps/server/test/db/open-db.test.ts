import { afterEach, describe, expect, it } from "vitest";
import { createEventsRepo } from "../../src/db/repositories/events.ts";
import { jobs } from "../../src/db/schema.ts";
import { tempDb } from "../support/helpers.ts";
import { seedJob } from "../support/job-seed.ts";

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
    const mkJob = () => seedJob(t.db).job;
    const j1 = mkJob();
    const j2 = mkJob();
    const repo = createEventsRepo(t.db);
    const log = (message: string) => ({ level: "info" as const, message });
    const a = repo.append(j1.id, "job.log", log("1"));
    const b = repo.append(j2.id, "job.log", log("2"));
    const c = repo.append(j1.id, "job.log", log("3"));
    const d = repo.append(null, "host.added", { hostId: 1, name: "a", fingerprint: null });
    expect([a.seq, b.seq, c.seq, d.seq]).toEqual([1, 1, 2, 1]);
    expect([a.id, b.id, c.id, d.id]).toEqual([1, 2, 3, 4]);
    expect(repo.listAfter(1, { jobId: j1.id, limit: 10 }).map((e) => e.data)).toEqual([log("3")]);
    expect(repo.listAfter(0, { limit: 10 })).toHaveLength(4);
  });
});

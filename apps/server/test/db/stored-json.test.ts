// Stored JSON is checked on load, over a real migrated SQLite database: a row edited behind the code's back
// fails with an error that names the job and the column, not somewhere deep in a phase.
import { afterEach, describe, expect, it } from "vitest";
import { createEventsRepo } from "../../src/db/repositories/events.ts";
import { createJobsRepo } from "../../src/db/repositories/jobs.ts";
import { hosts } from "../../src/db/schema.ts";
import { StoredDataError } from "../../src/db/stored-json.ts";
import { tempDb } from "../support/helpers.ts";

describe("jobs repository: stored JSON checked on load", () => {
  let t: ReturnType<typeof tempDb>;
  afterEach(() => t.cleanup());

  function oneJob() {
    t = tempDb();
    const host = t.db.insert(hosts).values({ name: "a", address: "127.0.0.1" }).returning().get().id;
    const repo = createJobsRepo(t.db);
    const job = repo.insert({
      sourceHostId: host,
      sourceVg: "vg0",
      sourceLv: "vm1",
      targetHostId: host,
      targetVg: "vg1",
      targetLv: "vm1",
      vm: { controller: "none" },
      options: { catchUpPasses: 1 },
      phaseState: { sizeBytes: 4096, rotation: { pass: "catchup-1", from: "bf-1-s1", fromThinId: null, toGen: 2 } },
    });
    const raw = (column: string, value: string) =>
      t.db.$client.prepare(`update jobs set ${column} = ? where id = ?`).run(value, job.id);
    return { repo, job, raw };
  }

  it("returns rows whose JSON has the declared shapes, typed", () => {
    const { repo, job } = oneJob();
    const row = repo.get(job.id);
    expect(row?.phaseState.rotation?.toGen).toBe(2);
    expect(row?.vm.controller).toBe("none");
    expect(repo.list({ limit: 10 })).toHaveLength(1);
    expect(repo.claimable()).toHaveLength(1);
  });

  it.each([
    ["phase_state", JSON.stringify({ sizeBytes: "big" }), /sizeBytes/],
    ["phase_state", JSON.stringify({ rotation: { pass: "catchup-1" } }), /rotation/],
    ["vm", JSON.stringify({ controller: "teleport" }), /vm/],
    ["options", JSON.stringify({ catchUpPasses: -1 }), /catchUpPasses/],
    ["error", JSON.stringify({ code: "X", message: "m", phase: "nowhere" }), /phase/],
    ["phase", "nowhere", /unknown phase nowhere/],
    ["state", "exploded", /unknown state exploded/],
  ])("a bad %s written with raw SQL fails the load, naming the job and the column", (column, value, detail) => {
    const { repo, job, raw } = oneJob();
    raw(column, value);
    // The runner's view leaves the row out instead: one bad row must not stop every other job.
    expect(repo.claimable()).toEqual([]);
    for (const load of [() => repo.get(job.id), () => repo.list({ limit: 10 })]) {
      let caught: unknown;
      try {
        load();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(StoredDataError);
      expect(caught).toMatchObject({ rowId: job.id, column, message: expect.stringMatching(detail) });
      expect(caught).toMatchObject({
        message: expect.stringContaining(`jobs row ${job.id}: stored ${column} is invalid`),
      });
    }
  });
});

describe("events repository: stored events checked on load", () => {
  let t: ReturnType<typeof tempDb>;
  afterEach(() => t.cleanup());

  it("returns the typed event union, and a row whose data does not fit its type fails naming the row", () => {
    t = tempDb();
    const repo = createEventsRepo(t.db);
    const good = repo.append(null, "host.trusted", { hostId: 1, name: "a", fingerprint: "SHA256:x" });
    const [loaded] = repo.listAfter(0, { limit: 10 });
    expect(loaded?.type === "host.trusted" && loaded.data.fingerprint).toBe("SHA256:x");

    t.db.$client.prepare("update job_events set data = ? where id = ?").run(JSON.stringify({ hostId: "one" }), good.id);
    expect(() => repo.listAfter(0, { limit: 10 })).toThrow(
      expect.objectContaining({ rowId: good.id, column: "data", message: expect.stringContaining("job_events row") }),
    );
    t.db.$client.prepare("update job_events set type = 'host.teleported' where id = ?").run(good.id);
    expect(() => repo.listAfter(0, { limit: 10 })).toThrow(StoredDataError);
  });
});

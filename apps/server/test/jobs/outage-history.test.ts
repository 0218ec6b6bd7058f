import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { createEventsRepo } from "../../src/db/repositories/events.ts";
import { createJobsRepo } from "../../src/db/repositories/jobs.ts";
import { jobEvents, jobs } from "../../src/db/schema.ts";
import { createOutageHistory } from "../../src/jobs/outage-history.ts";
import { tempDb } from "../support/helpers.ts";
import { seedJob } from "../support/job-seed.ts";

const T0 = Date.parse("2026-12-03T05:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

describe("outage history", () => {
  let t: ReturnType<typeof tempDb>;
  afterEach(() => t.cleanup());

  /** Marks `jobId` succeeded with an outage of stop `stopMs`, final delta 2 s, verify 1 s, start 0.25 s. */
  const finish = (jobId: number, stopMs = 500) => {
    const events = createEventsRepo(t.db);
    const phase = (p: "final_delta" | "verify" | "start_vm", at: number) => {
      const e = events.append(jobId, "job.phase", { phase: p });
      t.db
        .update(jobEvents)
        .set({ at: iso(at) })
        .where(eq(jobEvents.id, e.id))
        .run();
    };
    phase("final_delta", T0 + stopMs);
    phase("verify", T0 + stopMs + 2000);
    phase("start_vm", T0 + stopMs + 3000);
    t.db
      .update(jobs)
      .set({
        state: "succeeded",
        phase: "done",
        outageMs: stopMs + 3250,
        phaseState: {
          vmStoppedAt: T0,
          vmStartedAt: T0 + stopMs + 3250,
          finalChunkBytes: 65536,
          finalExtents: [
            [0, 16],
            [100, 16],
          ],
        },
      })
      .where(eq(jobs.id, jobId))
      .run();
  };
  const succeeded = (o: Parameters<typeof seedJob>[1] = {}) => {
    const seeded = seedJob(t.db, o);
    finish(seeded.job.id);
    return seeded;
  };

  it("takes the stop, delta, verify and start times of the newest migrations of this VM, else between these hosts", () => {
    t = tempDb();
    const history = createOutageHistory({ jobs: createJobsRepo(t.db), events: createEventsRepo(t.db) });
    const first = succeeded();
    const repo = createJobsRepo(t.db);
    // The same VM (source LV on the same host) moving again.
    const again = repo.insert({ ...first.job, id: undefined, state: "queued", phase: "prechecks", phaseState: {} });
    expect(history(again)).toEqual({
      match: "vm",
      samples: [
        {
          jobId: first.job.id,
          stopSeconds: 0.5,
          finalDeltaSeconds: 2,
          finalBytes: 32 * 65536,
          finalRuns: 2,
          verifySeconds: 1,
          startSeconds: 0.25,
        },
      ],
    });
    // Another VM between the same hosts (either way round).
    const other = repo.insert({
      ...first.job,
      id: undefined,
      sourceLv: "vm2",
      targetLv: "vm2",
      sourceHostId: first.targetHostId,
      targetHostId: first.sourceHostId,
      state: "queued",
      phase: "prechecks",
      phaseState: {},
    });
    expect(history(other)).toMatchObject({ match: "hosts", samples: [{ jobId: first.job.id }] });
    // Elsewhere: nothing.
    const elsewhere = seedJob(t.db).job;
    expect(history(elsewhere)).toBeNull();
  });

  it("takes the newest five with figures, newest first", () => {
    t = tempDb();
    const history = createOutageHistory({ jobs: createJobsRepo(t.db), events: createEventsRepo(t.db) });
    const repo = createJobsRepo(t.db);
    const { job } = seedJob(t.db);
    const again = () => repo.insert({ ...job, id: undefined, state: "queued", phase: "prechecks", phaseState: {} });
    finish(job.id, 100);
    for (const stopMs of [200, 300, 400, 500, 600]) finish(again().id, stopMs);
    // Succeeded without the events that time its outage (e.g. imported): no figures, skipped.
    const untimed = again();
    t.db.update(jobs).set({ state: "succeeded", outageMs: 1000 }).where(eq(jobs.id, untimed.id)).run();
    const found = history(again());
    expect(found?.match).toBe("vm");
    expect(found?.samples.map((s) => s.stopSeconds)).toEqual([0.6, 0.5, 0.4, 0.3, 0.2]);
  });
});

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

  /** A succeeded job whose outage ran stop 0.5 s, final delta 2 s, verify 1 s, start 0.25 s. */
  const succeeded = (o: Parameters<typeof seedJob>[1] = {}) => {
    const { job, sourceHostId, targetHostId } = seedJob(t.db, o);
    const events = createEventsRepo(t.db);
    const phase = (p: "final_delta" | "verify" | "start_vm", at: number) => {
      const e = events.append(job.id, "job.phase", { phase: p });
      t.db
        .update(jobEvents)
        .set({ at: iso(at) })
        .where(eq(jobEvents.id, e.id))
        .run();
    };
    phase("final_delta", T0 + 500);
    phase("verify", T0 + 2500);
    phase("start_vm", T0 + 3500);
    t.db
      .update(jobs)
      .set({
        state: "succeeded",
        phase: "done",
        outageMs: 3750,
        phaseState: {
          vmStoppedAt: T0,
          vmStartedAt: T0 + 3750,
          finalChunkBytes: 65536,
          finalExtents: [
            [0, 16],
            [100, 16],
          ],
        },
      })
      .where(eq(jobs.id, job.id))
      .run();
    return { job, sourceHostId, targetHostId };
  };

  it("takes the stop, delta, verify and start times of the newest migration of this VM, else between these hosts", () => {
    t = tempDb();
    const history = createOutageHistory({ jobs: createJobsRepo(t.db), events: createEventsRepo(t.db) });
    const first = succeeded();
    const repo = createJobsRepo(t.db);
    // The same VM (source LV on the same host) moving again.
    const again = repo.insert({ ...first.job, id: undefined, state: "queued", phase: "prechecks", phaseState: {} });
    expect(history(again)).toEqual({
      jobId: first.job.id,
      match: "vm",
      stopSeconds: 0.5,
      finalDeltaSeconds: 2,
      finalBytes: 32 * 65536,
      finalRuns: 2,
      verifySeconds: 1,
      startSeconds: 0.25,
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
    expect(history(other)).toMatchObject({ jobId: first.job.id, match: "hosts" });
    // Elsewhere: nothing.
    const elsewhere = seedJob(t.db).job;
    expect(history(elsewhere)).toBeNull();
  });
});

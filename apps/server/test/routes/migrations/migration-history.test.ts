import type { Migration, MigrationReport } from "@blockferry/contracts";
import { afterEach, describe, expect, it } from "vitest";
import { createJobObjectsRepo } from "../../../src/db/repositories/job-objects.ts";
import { createTransferJournal } from "../../../src/db/repositories/transfer-journal.ts";
import { hosts, jobs, transferRanges } from "../../../src/db/schema.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

const MiB = 2 ** 20;

/**
 * A finished migration's facts (passes, attempts, phase durations, who started it) and its log file, over a real
 * migrated SQLite database: the job is created through the API, its history is what a runner stores (events through
 * the real hub, ranges in the real journal table), with event times set so durations are exact.
 */
describe("migration report and log", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  const create = async () => {
    const [a, b] = ["a", "b"].map(
      (name) => t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id,
    );
    const res = await t.inject({
      method: "POST",
      url: "/api/migrations",
      payload: {
        source: { hostId: a, vg: "vg0", lv: "vm1" },
        target: { hostId: b, vg: "vg1" },
        vm: {
          controller: "commands",
          stopSource: "curl -H 'Authorization: Bearer s3cret' x",
          startTarget: "go {device}",
        },
      },
    });
    expect(res.statusCode).toBe(201);
    return res.json() as Migration;
  };

  /** Appends events through the hub as the runner does, at the given seconds after 12:00:00. */
  const history = (steps: Array<[seconds: number, append: () => void]>) => {
    for (const [s, append] of steps) {
      append();
      const at = new Date(Date.UTC(2026, 11, 2, 12, 0, s)).toISOString();
      t.db.$client.prepare("update job_events set at = ? where id = (select max(id) from job_events)").run(at);
    }
  };
  const phase = (id: number, p: Migration["phase"]) => () => t.hub.append(id, "job.phase", { phase: p });
  const state = (id: number, s: Migration["state"], p: Migration["phase"], retry?: number) => () =>
    t.hub.append(id, "job.state", { state: s, phase: p, ...(retry !== undefined && { retry }) });
  const range = (jobId: number, pass: string, offset: number, length: number, confirmed = true) =>
    t.db
      .insert(transferRanges)
      .values({ jobId, pass, offset, length, confirmedAt: confirmed ? "2026-12-02T12:00:00.000Z" : null })
      .run();

  it("reports each pass, each attempt with where it failed, phase durations, the whole duration and the author", async () => {
    t = await testApp();
    const m = await create();
    expect(m.createdBy).toMatch(/^admin \(token \d+\)$/);
    const id = m.id;
    history([
      [0, state(id, "running", "prechecks")],
      [0, phase(id, "prechecks")],
      [2, phase(id, "snapshot")],
      [3, phase(id, "prepare_target")],
      [4, phase(id, "full_copy")],
      [20, phase(id, "catch_up")],
      [25, phase(id, "wait_cutover")],
      [30, phase(id, "stop_vm")],
      [31, phase(id, "final_delta")],
      [32, () => t.hub.append(id, "job.log", { level: "error", message: "final_delta failed: target gone" })],
      [33, state(id, "failed", "final_delta")],
      [100, state(id, "queued", "final_delta", 1)],
      [101, state(id, "running", "final_delta")],
      [101, phase(id, "final_delta")],
      [104, phase(id, "verify")],
      [105, phase(id, "start_vm")],
      [106, phase(id, "cleanup")],
      [107, state(id, "succeeded", "done")],
    ]);
    // The full copy in two ranges of one run, a catch-up of two runs, a final delta of three ranges in two runs.
    range(id, "full-g1", 0, 32 * MiB);
    range(id, "full-g1", 32 * MiB, 32 * MiB);
    range(id, "catchup-1", 0, MiB);
    range(id, "catchup-1", 8 * MiB, MiB);
    range(id, "final", 0, MiB);
    range(id, "final", MiB, MiB);
    range(id, "final", 16 * MiB, 2 * MiB);
    t.db
      .update(jobs)
      .set({
        state: "succeeded",
        phase: "done",
        startedAt: "2026-12-02T12:00:00.000Z",
        finishedAt: "2026-12-02T12:01:47.000Z",
        attempt: 1,
      })
      .run();

    const res = await t.inject({ method: "GET", url: `/api/migrations/${id}/report`, as: await t.tokenFor("viewer") });
    expect(res.statusCode).toBe(200);
    const r = res.json() as MigrationReport;
    expect(r.passes).toEqual([
      { pass: "full-g1", kind: "full", number: 1, bytesPlanned: 64 * MiB, bytesMoved: 64 * MiB, ranges: 2, runs: 1 },
      {
        pass: "catchup-1",
        kind: "catch_up",
        number: 1,
        bytesPlanned: 2 * MiB,
        bytesMoved: 2 * MiB,
        ranges: 2,
        runs: 2,
      },
      { pass: "final", kind: "final", number: 1, bytesPlanned: 4 * MiB, bytesMoved: 4 * MiB, ranges: 3, runs: 2 },
    ]);
    expect(r.bytesMoved).toBe(70 * MiB);
    // A failure and its retry resume the same copy: nothing was discarded.
    expect(r.rollbacks).toEqual([]);
    expect(r.durationMs).toBe(107_000);
    expect(r.targetRemoved).toBe(false);
    expect(r.attempts.map((a) => [a.attempt, a.outcome, a.phase, a.error])).toEqual([
      [1, "failed", "final_delta", "final_delta failed: target gone"],
      [2, "succeeded", "cleanup", null],
    ]);
    expect(r.attempts[0]?.phases.at(-1)).toMatchObject({ phase: "final_delta", durationMs: 2000, outcome: "failed" });
    expect(r.attempts[1]?.phases.map((p) => [p.phase, p.durationMs, p.outcome])).toEqual([
      ["final_delta", 3000, "done"],
      ["verify", 1000, "done"],
      ["start_vm", 1000, "done"],
      ["cleanup", 1000, "done"],
    ]);
    // Both attempts' time in the final delta.
    expect(r.phaseDurationsMs).toContainEqual({ phase: "final_delta", durationMs: 5000 });
    expect(r.phaseDurationsMs.map((p) => p.phase)).toEqual([
      "prechecks",
      "snapshot",
      "prepare_target",
      "full_copy",
      "catch_up",
      "wait_cutover",
      "stop_vm",
      "final_delta",
      "verify",
      "start_vm",
      "cleanup",
    ]);
    expect(r.phaseDurationsMs).toContainEqual({ phase: "full_copy", durationMs: 16_000 });
  });

  it("keeps the passes a rollback discarded, from the events, beside the retry's from the journal", async () => {
    t = await testApp();
    const { id } = await create();
    const copied = (pass: string, p: Migration["phase"], rangesTotal: number, bytes: number, disk?: number) => () =>
      t.hub.append(id, "job.copied", {
        phase: p,
        pass,
        ...(disk !== undefined && { disk }),
        rangesTotal,
        rangesAlreadyDone: 0,
        bytesRead: bytes,
        bytesSent: bytes,
      });
    // Attempt 1 copies, fails in the final delta during the outage and rolls back: the journal is forgotten then.
    range(id, "full-g1", 0, 64 * MiB);
    range(id, "catchup-1", 0, MiB);
    history([
      [0, state(id, "running", "prechecks")],
      [0, phase(id, "full_copy")],
      [16, copied("full-g1", "full_copy", 2, 64 * MiB)],
      [16, phase(id, "catch_up")],
      [18, copied("catchup-1", "catch_up", 1, MiB)],
      [20, phase(id, "stop_vm")],
      [21, phase(id, "final_delta")],
      [
        24,
        () =>
          t.hub.append(id, "job.rolled_back", {
            phase: "final_delta",
            reason: "lab2: connection lost",
            outageMs: 3500,
          }),
      ],
      [24, state(id, "rolled_back", "prechecks")],
    ]);
    createTransferJournal(t.db).forgetJob(id);
    // Attempt 2 starts over from new snapshots and succeeds.
    history([
      [60, state(id, "queued", "prechecks", 1)],
      [60, state(id, "running", "prechecks")],
      [61, phase(id, "full_copy")],
      [75, copied("full-g2", "full_copy", 2, 64 * MiB)],
      [80, phase(id, "final_delta")],
      [81, copied("final-r1", "final_delta", 1, 2 * MiB)],
      [85, state(id, "succeeded", "done")],
    ]);
    range(id, "full-g2", 0, 64 * MiB);
    range(id, "final-r1", 0, 2 * MiB);

    const r = (await t.inject({ method: "GET", url: `/api/migrations/${id}/report` })).json() as MigrationReport;
    // The copy that exists now, as before: the journal's passes only.
    expect(r.passes.map((p) => [p.pass, p.bytesMoved])).toEqual([
      ["full-g2", 64 * MiB],
      ["final-r1", 2 * MiB],
    ]);
    expect(r.bytesMoved).toBe(66 * MiB);
    const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 12, 0, s)).toISOString();
    expect(r.rollbacks).toEqual([
      {
        attempt: 1,
        at: at(24),
        phase: "final_delta",
        reason: "lab2: connection lost",
        outageMs: 3500,
        discardedPasses: [
          {
            pass: "full-g1",
            disk: 0,
            rangesTotal: 2,
            rangesAlreadyDone: 0,
            bytesRead: 64 * MiB,
            bytesSent: 64 * MiB,
            at: at(16),
          },
          {
            pass: "catchup-1",
            disk: 0,
            rangesTotal: 1,
            rangesAlreadyDone: 0,
            bytesRead: MiB,
            bytesSent: MiB,
            at: at(18),
          },
        ],
      },
    ]);
    expect(r.attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, "rolled_back"],
      [2, "succeeded"],
    ]);
  });

  it("reports each disk's last verification: a one-disk job's event names no disk, a rollback's is verified again", async () => {
    t = await testApp();
    const { id } = await create();
    const verified = (data: { ranges: number; full: boolean; disk?: number }) => () =>
      t.hub.append(id, "job.verified", { phase: "verify", ...data });
    const report = async () =>
      ((await t.inject({ method: "GET", url: `/api/migrations/${id}/report` })).json() as MigrationReport).verified;
    expect(await report()).toEqual([]);
    history([
      [10, verified({ ranges: 7, full: false })],
      [20, verified({ ranges: 3, full: false, disk: 1 })],
      [30, verified({ ranges: 9, full: true, disk: 1 })],
    ]);
    expect(await report()).toEqual([
      { disk: 0, ranges: 7, full: false, at: "2026-12-02T12:00:10.000Z" },
      { disk: 1, ranges: 9, full: true, at: "2026-12-02T12:00:30.000Z" },
    ]);
  });

  it("sums every disk's ranges into each pass; a run never continues from one disk into the next", async () => {
    t = await testApp();
    const { id } = await create();
    const diskRange = (disk: number, pass: string, offset: number, length: number) =>
      t.db
        .insert(transferRanges)
        .values({ jobId: id, disk, pass, offset, length, confirmedAt: "2026-12-02T12:00:00.000Z" })
        .run();
    diskRange(0, "full-g1", 0, 16 * MiB);
    diskRange(1, "full-g1", 0, 8 * MiB);
    // Disk 1's change starts where disk 0's ended: still two runs, one on each disk.
    diskRange(0, "final", 0, MiB);
    diskRange(1, "final", MiB, MiB);
    const r = (await t.inject({ method: "GET", url: `/api/migrations/${id}/report` })).json() as MigrationReport;
    expect(r.passes.map((p) => [p.pass, p.bytesMoved, p.ranges, p.runs])).toEqual([
      ["full-g1", 24 * MiB, 2, 2],
      ["final", 2 * MiB, 2, 2],
    ]);
    expect(r.bytesMoved).toBe(26 * MiB);
  });

  it("says when a cancel removed the target the job created", async () => {
    t = await testApp();
    const { id } = await create();
    const objects = createJobObjectsRepo(t.db);
    const lv = objects.record(id, 2, "target_lv", "vg1", "vm1");
    expect((await t.inject({ method: "GET", url: `/api/migrations/${id}/report` })).json()).toMatchObject({
      targetRemoved: false,
    });
    objects.markRemoved(lv.id);
    expect((await t.inject({ method: "GET", url: `/api/migrations/${id}/report` })).json()).toMatchObject({
      targetRemoved: true,
    });
  });

  it("serves the log as a text attachment, the VM commands hidden from a viewer and never shown in full", async () => {
    t = await testApp();
    const { id } = await create();
    t.hub.append(id, "job.phase", { phase: "final_delta" });
    t.hub.append(id, "job.log", {
      level: "info",
      phase: "final_delta",
      message: "final delta: 16.1 MiB (16908288 bytes) in 199 runs",
    });
    t.hub.append(id, "job.log", { level: "error", phase: "final_delta", message: "two\nlines" });

    const asViewer = await t.inject({
      method: "GET",
      url: `/api/migrations/${id}/log`,
      as: await t.tokenFor("viewer"),
    });
    expect(asViewer.statusCode).toBe(200);
    expect(asViewer.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(asViewer.headers["content-disposition"]).toBe(`attachment; filename="blockferry-migration-${id}.log"`);
    const lines = asViewer.body.trimEnd().split("\n");
    expect(lines[0]).toBe(`# Blockferry migration ${id}: event log (times in UTC)`);
    expect(lines[1]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z info {2}\[-\] migration created: a vg0\/vm1 -> b vg1\/vm1; VM commands \(stop: \(hidden: operators and admins only\)/,
    );
    expect(lines.slice(2).map((l) => l.replace(/^\S+ /, ""))).toEqual([
      "info  [final delta] phase: final delta",
      "info  [final delta] final delta: 16.1 MiB (16908288 bytes) in 199 runs",
      "error [final delta] two | lines",
    ]);
    expect(asViewer.body).not.toContain("s3cret");

    const asOperator = await t.inject({
      method: "GET",
      url: `/api/migrations/${id}/log`,
      as: await t.tokenFor("operator"),
    });
    expect(asOperator.body).toMatch(/stop: \(hidden: \d+ characters\)/);
    expect(asOperator.body).not.toContain("s3cret");

    expect((await t.inject({ method: "GET", url: `/api/migrations/${id}/log`, as: "anonymous" })).statusCode).toBe(401);
    expect((await t.inject({ method: "GET", url: "/api/migrations/999/log" })).statusCode).toBe(404);
    expect((await t.inject({ method: "GET", url: "/api/migrations/999/report" })).statusCode).toBe(404);
  });
});

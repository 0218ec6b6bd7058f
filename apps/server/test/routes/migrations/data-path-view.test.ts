import type { Migration, MigrationReport } from "@blockferry/contracts";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { createJobsRepo } from "../../../src/db/repositories/jobs.ts";
import { hosts, jobDisks } from "../../../src/db/schema.ts";
import type { HostShell } from "../../../src/jobs/context.ts";
import { dataPathsFromEvents } from "../../../src/jobs/data-path-view.ts";
import { copyRequest } from "../../../src/jobs/phases/shared.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";
import { phaseContext } from "../../support/phase-context.ts";

// The copies' data path as the job's view and report show it: each pass reports it through copyRequest's
// onDataPath (as the transfer mover does), into the real database; the API reads it back.
const unused = (name: string): HostShell => ({
  hostId: 0,
  name,
  run: () => Promise.reject(new Error("no command expected")),
  openByteSource: () => Promise.reject(new Error("no read expected")),
});
const REASON = "direct path not available: lab1 cannot reach lab2 at its migration address 10.77.0.2:22";

describe("which data path a migration's copies took", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  const create = async (options: object, lv = "vm1") => {
    const [a, b] = ["lab1", "lab2"].map(
      (name) =>
        t.db
          .select()
          .from(hosts)
          .all()
          .find((h) => h.name === name)?.id ??
        t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id,
    );
    const res = await t.inject({
      method: "POST",
      url: "/api/migrations",
      payload: {
        source: { hostId: a, vg: "vg0", lv },
        target: { hostId: b, vg: "vg1" },
        vm: { controller: "none" },
        options,
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as Migration;
  };
  const read = async (id: number) => ({
    view: (await t.inject({ method: "GET", url: `/api/migrations/${id}` })).json() as Migration,
    report: (await t.inject({ method: "GET", url: `/api/migrations/${id}/report` })).json() as MigrationReport,
  });

  it("auto: per pass and the last, with the reason the relay was taken; view and report agree", async () => {
    t = await testApp();
    const m = await create({ dataPath: "auto" });
    expect(m.dataPath).toEqual({ requested: "auto", ran: null, reason: null, passes: [] });

    const ctx = phaseContext({
      db: t.db,
      jobId: m.id,
      phase: "full_copy",
      source: unused("lab1"),
      target: unused("lab2"),
    });
    const signal = new AbortController().signal;
    copyRequest(ctx, "full-g1", "/dev/vg0/snap", signal).onDataPath?.("relay", REASON);
    let { view, report } = await read(m.id);
    const relayed = {
      requested: "auto",
      ran: "relay",
      reason: REASON,
      passes: [{ pass: "full-g1", ran: "relay", reason: REASON }],
    };
    expect(view.dataPath).toEqual(relayed);
    expect(report.dataPath).toEqual(relayed);

    copyRequest(ctx, "catchup-1", "/dev/vg0/snap", signal).onDataPath?.("direct");
    ({ view, report } = await read(m.id));
    const both = {
      requested: "auto",
      ran: "direct",
      reason: null,
      passes: [
        { pass: "full-g1", ran: "relay", reason: REASON },
        { pass: "catchup-1", ran: "direct" },
      ],
    };
    expect(view.dataPath).toEqual(both);
    expect(report.dataPath).toEqual(both);
  });

  it("auto when unset (as the copies decide); a job without copies yet says nothing ran", async () => {
    t = await testApp();
    const m = await create({});
    expect((await read(m.id)).report.dataPath).toEqual({ requested: "auto", ran: null, reason: null, passes: [] });
    const relay = await create({ dataPath: "relay" }, "vm2");
    expect((await read(relay.id)).view.dataPath).toEqual({ requested: "relay", ran: null, reason: null, passes: [] });
  });

  it("a set's disks decide on their own: the view lists every disk's passes, the report reads them from the log", async () => {
    t = await testApp();
    const [a, b] = ["lab1", "lab2"].map(
      (name) => t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id,
    );
    const job = createJobsRepo(t.db).insert(
      {
        sourceHostId: a as number,
        sourceVg: "vg0",
        sourceLv: "vm1",
        targetHostId: b as number,
        targetVg: "vg0",
        targetLv: "vm1",
        vm: { controller: "none" },
        options: { dataPath: "auto" },
        state: "running",
        phase: "full_copy",
        phaseState: { dataPaths: [{ pass: "full-g1", ran: "direct" }] },
      },
      [{ sourceVg: "vg0", sourceLv: "vm1-data", targetVg: "vg0", targetLv: "vm1-data" }],
    );
    t.db
      .update(jobDisks)
      .set({ phaseState: { dataPaths: [{ pass: "full-g1", ran: "relay", reason: REASON }] } })
      .where(and(eq(jobDisks.jobId, job.id), eq(jobDisks.index, 1)))
      .run();
    // Both disks' lines as a set's disks log them (disk-context.ts prefixes each with its disk).
    t.runtime.events.append(job.id, "job.log", {
      level: "info",
      message: "disk 0 (vg0/vm1): full-g1: data path direct",
      dataPath: "direct",
    });
    t.runtime.events.append(job.id, "job.log", {
      level: "warn",
      message: `disk 1 (vg0/vm1-data): full-g1: data path relay (${REASON})`,
      dataPath: "relay",
    });
    const { view, report } = await read(job.id);
    const passes = [
      { pass: "full-g1", ran: "direct" },
      { pass: "full-g1", disk: 1, ran: "relay", reason: REASON },
    ];
    expect(view.dataPath.passes).toEqual(passes);
    expect(report.dataPath.passes).toEqual(passes);
  });

  it("reads the pass and the reason back from the log line, a re-run pass counted where it ran last", () => {
    const log = (message: string, dataPath?: "direct" | "relay") => ({
      id: 1,
      seq: 1,
      jobId: 1,
      at: "2026-12-03T12:00:00.000Z",
      type: "job.log" as const,
      data: { level: "info" as const, message, phase: "full_copy" as const, ...(dataPath && { dataPath }) },
    });
    expect(
      dataPathsFromEvents([
        log("full-g1: data path direct", "direct"),
        log("full-g1: copied"),
        log("final: data path relay (direct path not available: a (b) c)", "relay"),
        log("full-g1: data path relay (x)", "relay"),
      ]),
    ).toEqual([
      { pass: "final", ran: "relay", reason: "direct path not available: a (b) c" },
      { pass: "full-g1", ran: "relay", reason: "x" },
    ]);
  });
});

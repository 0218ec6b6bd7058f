import { JOB_STATES, type Migration, PHASES } from "@blockferry/contracts";
import { afterEach, describe, expect, it } from "vitest";
import { hosts, jobs } from "../../../src/db/schema.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

/** The migrations API over a real migrated SQLite database (the runner is not started: no hosts to reach). */
describe("migrations API", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  const seedHosts = (status: "trusted" | "untrusted") => {
    const a = t.db.insert(hosts).values({ name: "a", address: "127.0.0.1", status }).returning().get();
    const b = t.db.insert(hosts).values({ name: "b", address: "127.0.0.1", status }).returning().get();
    return [a.id, b.id] as const;
  };
  const body = (src: number, dst: number) => ({
    source: { hostId: src, vg: "vg0", lv: "vm1" },
    target: { hostId: dst, vg: "vg0" },
    vm: { controller: "commands", stopSource: "virsh shutdown vm1", startTarget: "start {device}" },
  });

  it("refuses untrusted hosts and bad bodies with clear errors", async () => {
    t = await testApp();
    const [a, b] = seedHosts("untrusted");
    const res = await t.inject({ method: "POST", url: "/api/migrations", payload: body(a, b) });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ error: { message: expect.stringContaining("not trusted") } });
    const bad = await t.inject({
      method: "POST",
      url: "/api/migrations",
      payload: { ...body(a, b), vm: { controller: "commands", stopSource: "x", startTarget: "y", extra: 1 } },
    });
    expect(bad.statusCode).toBe(400);
    const badName = await t.inject({
      method: "POST",
      url: "/api/migrations",
      payload: { ...body(a, b), source: { hostId: a, vg: "vg0", lv: "$(reboot)" } },
    });
    expect(badName.statusCode).toBe(400);
  });

  it("creates, lists, filters, and records an event for a job", async () => {
    t = await testApp();
    const [a, b] = seedHosts("trusted");
    const created = await t.inject({ method: "POST", url: "/api/migrations", payload: body(a, b) });
    expect(created.statusCode).toBe(201);
    const m = created.json() as Migration;
    expect(m).toMatchObject({ state: "queued", phase: "prechecks", target: { lv: "vm1" }, cutover: "manual" });
    const list = (await t.inject({ method: "GET", url: "/api/migrations?state=queued&q=vm" })).json() as {
      migrations: Migration[];
    };
    expect(list.migrations.map((x) => x.id)).toEqual([m.id]);
    const none = (await t.inject({ method: "GET", url: "/api/migrations?state=failed" })).json() as {
      migrations: Migration[];
    };
    expect(none.migrations).toEqual([]);
    const events = (await t.inject({ method: "GET", url: `/api/jobs/${m.id}/events` })).json() as {
      events: Array<{ type: string }>;
    };
    expect(events.events.map((e) => e.type)).toEqual(["job.created"]);
  });

  it("retries only failed jobs, from the phase they failed in", async () => {
    t = await testApp();
    const [a, b] = seedHosts("trusted");
    const m = (await t.inject({ method: "POST", url: "/api/migrations", payload: body(a, b) })).json() as Migration;
    const early = await t.inject({ method: "POST", url: `/api/migrations/${m.id}/retry` });
    expect(early.statusCode).toBe(409);
    t.db.$client
      .prepare("update jobs set state='failed', phase='full_copy', error=? where id=?")
      .run(JSON.stringify({ code: "X", message: "boom", phase: "full_copy" }), m.id);
    const retried = (await t.inject({ method: "POST", url: `/api/migrations/${m.id}/retry` })).json() as Migration;
    expect(retried).toMatchObject({ state: "queued", phase: "full_copy", attempt: 1, error: null });
  });

  it("refuses to cancel once the VM may run on the target, and sets the cancel flag before that", async () => {
    t = await testApp();
    const [a, b] = seedHosts("trusted");
    const m = (await t.inject({ method: "POST", url: "/api/migrations", payload: body(a, b) })).json() as Migration;
    const ok = await t.inject({ method: "POST", url: `/api/migrations/${m.id}/cancel` });
    expect(ok.statusCode).toBe(200);
    expect(t.db.select().from(jobs).get()?.cancelRequested).toBe(true);
    t.db.$client.prepare("update jobs set state='running', phase='start_vm' where id=?").run(m.id);
    const late = await t.inject({ method: "POST", url: `/api/migrations/${m.id}/cancel` });
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({
      error: {
        code: "CONFLICT",
        message: expect.stringMatching(/past the point of no return.*lose everything it wrote on the target/),
        details: { phase: "start_vm", reason: "past_point_of_no_return" },
      },
    });
    // A start that failed before the VM came up can still roll back...
    t.db.$client.prepare("update jobs set state='failed', phase='start_vm', phase_state='{}' where id=?").run(m.id);
    const failedStart = await t.inject({ method: "POST", url: `/api/migrations/${m.id}/cancel` });
    expect(failedStart.json()).toMatchObject({ state: "cancelling" });
    // ...but not once the VM started on the target: only a retry (which finishes the clean-up) is left.
    t.db.$client
      .prepare("update jobs set state='failed', phase='cleanup', phase_state=? where id=?")
      .run(JSON.stringify({ vmStoppedAt: 1, vmStartedAt: 2 }), m.id);
    const failedCleanup = await t.inject({ method: "POST", url: `/api/migrations/${m.id}/cancel` });
    expect(failedCleanup.statusCode).toBe(409);
    expect(failedCleanup.json().error.message).toMatch(/Retry the migration/);
  });

  it("shows the volume size once the job measured it, apart from the bytes of the last pass", async () => {
    t = await testApp();
    const [a, b] = seedHosts("trusted");
    const m = (await t.inject({ method: "POST", url: "/api/migrations", payload: body(a, b) })).json() as Migration;
    expect(m.sizeBytes).toBeNull();
    const view = async () => {
      const one = (await t.inject({ method: "GET", url: `/api/migrations/${m.id}` })).json() as Migration;
      const list = (await t.inject({ method: "GET", url: "/api/migrations" })).json() as {
        migrations: Migration[];
      };
      expect(list.migrations.find((x) => x.id === m.id)).toEqual(one);
      return one;
    };
    // Prechecks without an estimate store 0: still unknown.
    t.db.$client.prepare("update jobs set phase_state=? where id=?").run(JSON.stringify({ sizeBytes: 0 }), m.id);
    expect((await view()).sizeBytes).toBeNull();
    // A catch-up pass: the counters are that pass's bytes, the size stays the volume's.
    t.db.$client
      .prepare("update jobs set phase='catch_up', phase_state=?, bytes_total=?, bytes_done=? where id=?")
      .run(JSON.stringify({ sizeBytes: 64 * 2 ** 20, snapshotGen: 2 }), 3 * 2 ** 20, 2 ** 20, m.id);
    expect(await view()).toMatchObject({ sizeBytes: 64 * 2 ** 20, bytesTotal: 3 * 2 ** 20, bytesDone: 2 ** 20 });
  });

  it("says a job is cancellable exactly when the cancel endpoint would accept it", async () => {
    t = await testApp();
    const [a, b] = seedHosts("trusted");
    const m = (await t.inject({ method: "POST", url: "/api/migrations", payload: body(a, b) })).json() as Migration;
    expect(m.cancellable).toBe(true);
    const seen = { yes: [] as string[], no: [] as string[] };
    for (const state of JOB_STATES)
      for (const phase of PHASES)
        for (const started of [false, true]) {
          const phaseState = started ? { sizeBytes: 2 ** 20, vmStoppedAt: 1, vmStartedAt: 2 } : { sizeBytes: 2 ** 20 };
          t.db.$client
            .prepare("update jobs set state=?, phase=?, phase_state=?, cancel_requested=0 where id=?")
            .run(state, phase, JSON.stringify(phaseState), m.id);
          const shown = (await t.inject({ method: "GET", url: `/api/migrations/${m.id}` })).json() as Migration;
          const res = await t.inject({ method: "POST", url: `/api/migrations/${m.id}/cancel` });
          const label = `${state}/${phase}${started ? "/vm started" : ""}`;
          expect([label, res.statusCode]).toEqual([label, shown.cancellable ? 200 : 409]);
          seen[shown.cancellable ? "yes" : "no"].push(label);
        }
    // Spot checks of the rule itself, so a view and service that agree on something wrong still fail.
    expect(seen.yes).toEqual(
      expect.arrayContaining(["running/verify", "waiting_cutover/wait_cutover", "failed/start_vm"]),
    );
    expect(seen.no).toEqual(
      expect.arrayContaining([
        "running/start_vm",
        "running/cleanup",
        "queued/start_vm",
        "failed/start_vm/vm started",
        "failed/cleanup",
        "cancelling/full_copy",
        "succeeded/done",
        "cancelled/prechecks",
      ]),
    );
  });

  it("changes the bandwidth limit of a job", async () => {
    t = await testApp();
    const [a, b] = seedHosts("trusted");
    const m = (await t.inject({ method: "POST", url: "/api/migrations", payload: body(a, b) })).json() as Migration;
    const res = await t.inject({
      method: "PUT",
      url: `/api/migrations/${m.id}/bandwidth`,
      payload: { bytesPerSecond: 1048576 },
    });
    expect(res.json()).toMatchObject({ options: { bandwidthLimitBytesPerSecond: 1048576 } });
    const chunkMap = await t.inject({ method: "GET", url: `/api/migrations/${m.id}/chunk-map` });
    expect(chunkMap.json()).toEqual({ chunkBytes: 65536, totalChunks: 0, copied: [], changed: [], verified: [] });
  });
});

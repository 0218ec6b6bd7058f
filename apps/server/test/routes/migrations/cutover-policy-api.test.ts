import type { Migration } from "@blockferry/contracts";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { hosts, jobs } from "../../../src/db/schema.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

/** The cutover policy through the API over a real migrated SQLite database (the runner is not started). */
describe("cutover policy API", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  const create = async (cutover: unknown, lv = "vm1") => {
    const [a, b] = ["a", "b"].map(
      (name) =>
        t.db
          .insert(hosts)
          .values({ name: `${name}-${lv}`, address: "127.0.0.1", status: "trusted" })
          .returning()
          .get().id,
    );
    const res = await t.inject({
      method: "POST",
      url: "/api/migrations",
      payload: {
        source: { hostId: a, vg: "vg0", lv },
        target: { hostId: b, vg: "vg0" },
        vm: { controller: "none" },
        cutover,
      },
    });
    expect(res.statusCode).toBe(201);
    return res.json() as Migration;
  };
  const put = (id: number, payload: object, as?: string) =>
    t.inject({ method: "PUT", url: `/api/migrations/${id}/cutover-policy`, payload, ...(as && { as }) });

  it("stores a policy, the short forms as before, and shows it in the view", async () => {
    t = await testApp();
    const short = await create("auto");
    expect(short).toMatchObject({
      cutover: "auto",
      cutoverPolicy: { mode: "auto" },
      cutoverWait: null,
      prediction: null,
    });
    const detailed = await create({ mode: "auto", maxOutageSeconds: 5, maxPasses: 3 }, "vm2");
    expect(detailed).toMatchObject({
      cutover: "auto",
      cutoverPolicy: { mode: "auto", maxOutageSeconds: 5, maxPasses: 3 },
    });
  });

  it("changes a running migration's policy (operator role, audited), refuses bad bodies and viewers", async () => {
    t = await testApp();
    const m = await create("manual");
    const policy = { mode: "auto", maxOutageSeconds: 4, notBefore: "2026-12-03T22:00:00.000Z" };
    const res = await put(m.id, policy);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ cutover: "auto", cutoverPolicy: policy });
    expect((await t.inject({ method: "GET", url: `/api/migrations/${m.id}` })).json()).toMatchObject({
      cutoverPolicy: policy,
    });
    // Back to the plain mode: the details are dropped.
    const manual = (await put(m.id, { mode: "manual" })).json() as Migration;
    expect(manual).toMatchObject({ cutover: "manual", cutoverPolicy: { mode: "manual" } });
    expect(t.db.select().from(jobs).where(eq(jobs.id, m.id)).get()?.cutoverPolicy).toBeNull();

    const audit = (await t.inject({ method: "GET", url: "/api/audit?limit=5" })).json() as {
      entries: Array<{ action: string; subject: string; details: unknown }>;
    };
    expect(audit.entries[1]).toMatchObject({
      action: "migration.cutover_policy",
      subject: `job:${m.id}`,
      details: { policy },
    });

    expect((await put(m.id, { mode: "auto", maxOutageSeconds: -1 })).statusCode).toBe(400);
    expect((await put(m.id, { mode: "sometimes" })).statusCode).toBe(400);
    expect((await put(m.id, { mode: "manual", extra: 1 })).statusCode).toBe(400);
    expect((await put(999, { mode: "manual" })).statusCode).toBe(404);
    const viewer = await t.tokenFor("viewer");
    expect((await put(m.id, { mode: "manual" }, viewer)).statusCode).toBe(403);
  });

  it("refuses with 409 once the VM is stopped or the migration finished", async () => {
    t = await testApp();
    const m = await create("manual");
    t.db
      .update(jobs)
      .set({ state: "running", phase: "stop_vm", phaseState: { vmStoppedAt: Date.now() } })
      .where(eq(jobs.id, m.id))
      .run();
    expect((await put(m.id, { mode: "auto" })).statusCode).toBe(409);
    t.db.update(jobs).set({ phase: "final_delta" }).where(eq(jobs.id, m.id)).run();
    expect((await put(m.id, { mode: "auto" })).statusCode).toBe(409);
    t.db.update(jobs).set({ state: "succeeded", phase: "done" }).where(eq(jobs.id, m.id)).run();
    const refused = await put(m.id, { mode: "auto" });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ error: { message: expect.stringContaining("until the VM is stopped") } });
    // Before the stop command (the gate still runs) the policy may still change.
    t.db
      .update(jobs)
      .set({ state: "waiting_cutover", phase: "stop_vm", phaseState: {} })
      .where(eq(jobs.id, m.id))
      .run();
    expect((await put(m.id, { mode: "auto" })).statusCode).toBe(200);
  });

  it("lists the migrations whose measured outage exceeded their budget", async () => {
    t = await testApp();
    const over = await create({ mode: "auto", maxOutageSeconds: 5 }, "over");
    const within = await create({ mode: "auto", maxOutageSeconds: 5 }, "within");
    const noBudget = await create("auto", "nobudget");
    const set = (id: number, outageMs: number) =>
      t.db.update(jobs).set({ state: "succeeded", phase: "done", outageMs }).where(eq(jobs.id, id)).run();
    set(over.id, 5001);
    set(within.id, 5000);
    set(noBudget.id, 60_000);
    const list = (await t.inject({ method: "GET", url: "/api/migrations?overBudget=true" })).json() as {
      migrations: Migration[];
    };
    expect(list.migrations.map((x) => x.id)).toEqual([over.id]);
    const all = (await t.inject({ method: "GET", url: "/api/migrations" })).json() as { migrations: Migration[] };
    expect(all.migrations).toHaveLength(3);
  });
});

import type { Migration } from "@blockferry/contracts";
import { afterEach, describe, expect, it } from "vitest";
import { hosts } from "../../../src/db/schema.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

/** The rollback bound and the rolled_back state through the API, over a real migrated SQLite database. */
describe("rollback through the API", () => {
  let t: TestApp;
  afterEach(async () => {
    await t.close();
    ids = [];
  });

  let ids: number[] = [];
  const create = async (options: object) => {
    if (ids.length === 0)
      ids = ["a", "b"].map(
        (name) => t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id,
      );
    const [a, b] = ids;
    return t.inject({
      method: "POST",
      url: "/api/migrations",
      payload: {
        source: { hostId: a, vg: "vg0", lv: "vm1" },
        target: { hostId: b, vg: "vg0" },
        vm: { controller: "commands", stopSource: "stop", startSource: "start", startTarget: "start {device}" },
        options,
      },
    });
  };

  it("takes rollbackAfterSeconds from 1 to 3600 only", async () => {
    t = await testApp();
    for (const bad of [0, 3601, 1.5]) expect((await create({ rollbackAfterSeconds: bad })).statusCode).toBe(400);
    const ok = (await create({ rollbackAfterSeconds: 10 })).json() as Migration;
    expect(ok.options).toMatchObject({ rollbackAfterSeconds: 10 });
  });

  it("retries a rolled-back job from prechecks (its rollback removed the copies), and cancels one to clean up", async () => {
    t = await testApp();
    const m = (await create({})).json() as Migration;
    const rollBack = () =>
      t.db.$client
        .prepare("update jobs set state='rolled_back', phase='prechecks', error=? where id=?")
        .run(JSON.stringify({ code: "ROLLED_BACK", message: "lab2 gone", phase: "final_delta" }), m.id);
    rollBack();
    const shown = (await t.inject({ method: "GET", url: `/api/migrations/${m.id}` })).json() as Migration;
    expect(shown).toMatchObject({ state: "rolled_back", cancellable: true });
    const retried = (await t.inject({ method: "POST", url: `/api/migrations/${m.id}/retry` })).json() as Migration;
    expect(retried).toMatchObject({ state: "queued", phase: "prechecks", attempt: 1, error: null });
    rollBack();
    const cancelled = (await t.inject({ method: "POST", url: `/api/migrations/${m.id}/cancel` })).json() as Migration;
    expect(cancelled).toMatchObject({ state: "cancelling" });
  });
});

import type { ErrorBody, Migration } from "@blockferry/contracts";
import { afterEach, describe, expect, it } from "vitest";
import { createJobsRepo } from "../../../src/db/repositories/jobs.ts";
import { hosts } from "../../../src/db/schema.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

/** POST /api/migrations with a VM's disk set: validation, the per-disk view and chunk map, the per-disk LV guard. */
describe("migrations of a disk set", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  const seed = () => {
    const add = (name: string) =>
      t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id;
    return [add("a"), add("b")] as const;
  };
  const disk = (lv: string, target: object = {}) => ({ source: { vg: "vg0", lv }, target: { vg: "vg1", ...target } });
  const set = (a: number, b: number, disks: object[]) => ({
    sourceHostId: a,
    targetHostId: b,
    disks,
    vm: { controller: "none" },
  });
  const post = (payload: object) => t.inject({ method: "POST", url: "/api/migrations", payload });

  it("creates a set, shows each disk, serves each disk's chunk map, and guards every disk's LVs", async () => {
    t = await testApp();
    const [a, b] = seed();
    const res = await post(set(a, b, [disk("root"), disk("data", { lv: "data2", thinPool: "pool" })]));
    expect(res.statusCode).toBe(201);
    const m = res.json() as Migration;
    expect(m.disks.map((d) => [d.index, d.source.lv, d.target.lv, d.target.thinPool, d.state])).toEqual([
      [0, "root", "root", null, "pending"],
      [1, "data", "data2", "pool", "pending"],
    ]);
    expect(m.source).toMatchObject({ hostId: a, vg: "vg0", lv: "root" });
    const map = await t.inject({ method: "GET", url: `/api/migrations/${m.id}/chunk-map?disk=1` });
    expect(map.statusCode).toBe(200);
    expect((await t.inject({ method: "GET", url: `/api/migrations/${m.id}/chunk-map?disk=2` })).statusCode).toBe(404);
    // Disk 1's source LV alone is enough for a 409, in the one-disk form too.
    const clash = await post({
      source: { hostId: a, vg: "vg0", lv: "data" },
      target: { hostId: b, vg: "vg9" },
      vm: { controller: "none" },
    });
    expect(clash.statusCode).toBe(409);
    expect((clash.json() as ErrorBody).error.message).toMatch(
      new RegExp(`vg0/data on a is the source of unfinished migration ${m.id}`),
    );
    // And the database refuses it whoever writes it.
    expect(() =>
      createJobsRepo(t.db).insert(
        {
          sourceHostId: a,
          sourceVg: "vg0",
          sourceLv: "x",
          targetHostId: b,
          targetVg: "vg1",
          targetLv: "x",
          vm: { controller: "none" },
          options: {},
        },
        [{ sourceVg: "vg0", sourceLv: "y", targetVg: "vg1", targetLv: "data2" }],
      ),
    ).toThrow(/job_disks\.target_host_id/);
  });

  it("refuses 0 or 17 disks, one LV twice in a set, bad names by the LVM rules, and a mix of both forms", async () => {
    t = await testApp();
    const [a, b] = seed();
    const many = Array.from({ length: 17 }, (_, i) => disk(`d${i}`));
    expect((await post(set(a, b, []))).statusCode).toBe(400);
    expect((await post(set(a, b, many))).statusCode).toBe(400);
    expect((await post(set(a, b, many.slice(0, 16)))).statusCode).toBe(201);
    const twice = await post(set(a, b, [disk("x1"), disk("x2", { lv: "x1" })]));
    expect(twice.statusCode).toBe(400);
    expect((twice.json() as ErrorBody).error.message).toMatch(/disks 0 and 1 have the same target LV vg1\/x1/);
    expect((await post(set(a, b, [disk("y1"), disk("y1", { lv: "other" })]))).statusCode).toBe(400);
    const bad = await post(set(a, b, [disk("z1"), disk("snapshot_z")]));
    expect(bad.statusCode).toBe(400);
    expect((bad.json() as ErrorBody).error.message).toMatch(/^body\/disks\/1\/source\/lv/);
    const mixed = await post({ ...set(a, b, [disk("w1")]), source: { hostId: a, vg: "vg0", lv: "w2" } });
    expect(mixed.statusCode).toBe(400);
  });
});

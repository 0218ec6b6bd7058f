import type { ErrorBody } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hosts } from "../../src/db/schema.ts";
import { type TestApp, testApp } from "../support/helpers.ts";

/**
 * What prechecks or a remote shell would refuse later is refused at the API: 400 with the documented error body
 * naming the field, nothing stored, never a 500.
 */
describe("API input validation", () => {
  let t: TestApp;
  let a = 0;
  let b = 0;
  beforeAll(async () => {
    t = await testApp();
    const add = (name: string) =>
      t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id;
    [a, b] = [add("a"), add("b")];
  });
  afterAll(async () => t?.close());

  const migration = (over: { source?: object; target?: object; vm?: object; options?: object } = {}) => ({
    source: { hostId: a, vg: "vg0", lv: "vm1", ...over.source },
    target: { hostId: b, vg: "vg0", ...over.target },
    vm: over.vm ?? { controller: "none" },
    ...(over.options && { options: over.options }),
  });
  const count = (table: string) =>
    (t.db.$client.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
  /** 400, the documented body, the field named in the message; and nothing stored. */
  const expectRefused = async (
    req: { method: "POST" | "GET" | "PUT" | "DELETE"; url: string; payload?: object },
    field: string,
  ) => {
    const [jobs, hostRows] = [count("jobs"), count("hosts")];
    const res = await t.inject(req);
    const body = res.json() as ErrorBody;
    expect([field, res.statusCode]).toEqual([field, 400]);
    expect(body.error).toMatchObject({ code: "INVALID_INPUT", requestId: expect.any(String) });
    expect(body.error.message).toContain(field);
    expect([count("jobs"), count("hosts")]).toEqual([jobs, hostRows]);
    return body.error;
  };
  const createMigration = (payload: object) => ({ method: "POST" as const, url: "/api/migrations", payload });
  const runPrechecks = (payload: object) => ({ method: "POST" as const, url: "/api/prechecks", payload });

  it("refuses LVM names that LVM refuses, with the packages/lvm rule, on create and on prechecks", async () => {
    const cases: Array<[object, string]> = [
      [migration({ source: { vg: ".." } }), "body/source/vg"],
      [migration({ source: { vg: "." } }), "body/source/vg"],
      [migration({ source: { lv: "snapshot1" } }), "body/source/lv"],
      [migration({ source: { lv: "pvmove0" } }), "body/source/lv"],
      [migration({ target: { lv: "vm_tmeta" } }), "body/target/lv"],
      [migration({ target: { vg: "..", lv: "x" } }), "body/target/vg"],
      [migration({ target: { thinPool: "snapshotpool" } }), "body/target/thinPool"],
    ];
    for (const [payload, field] of cases) {
      const err = await expectRefused(createMigration(payload), field);
      expect(err.message).toMatch(/reserved|'\.' and '\.\.'/);
      await expectRefused(runPrechecks(payload), field);
    }
  });

  it("refuses a libvirt domain starting with '-' (virsh would read it as an option)", async () => {
    const err = await expectRefused(
      createMigration(migration({ vm: { controller: "libvirt", domain: "-oops" } })),
      "body/vm/domain",
    );
    expect(err.message).toContain("must not start with '-'");
  });

  it("gives every number a maximum: 1e300 is refused, not stored", async () => {
    await expectRefused(createMigration(migration({ options: { snapshotSizeBytes: 1e300 } })), "snapshotSizeBytes");
    await expectRefused(
      createMigration(migration({ options: { bandwidthLimitBytesPerSecond: 1e300 } })),
      "bandwidthLimitBytesPerSecond",
    );
    await expectRefused(createMigration(migration({ source: { hostId: 1e300 } })), "hostId");
    await expectRefused({ method: "GET", url: "/api/migrations/1e300" }, "params/id");
    await expectRefused({ method: "DELETE", url: "/api/hosts/1e300" }, "params/id");
    await expectRefused({ method: "GET", url: "/api/migrations?hostId=1e300" }, "querystring/hostId");
    await expectRefused(
      { method: "PUT", url: "/api/migrations/1/bandwidth", payload: { bytesPerSecond: 1e300 } },
      "body/bytesPerSecond",
    );
  });

  it("does not coerce body types: a number is not a name, a string is not a number or a boolean", async () => {
    const host = { name: "h1", address: "127.0.0.1", privateKeyPath: "/nonexistent" };
    await expectRefused({ method: "POST", url: "/api/hosts", payload: { ...host, name: 123 } }, "body/name");
    await expectRefused({ method: "POST", url: "/api/hosts", payload: { ...host, port: "22" } }, "body/port");
    await expectRefused(createMigration(migration({ source: { hostId: String(a) } })), "body/source/hostId");
    await expectRefused(createMigration(migration({ options: { reuseTarget: "true" } })), "body/options/reuseTarget");
    // Path and query parameters are text on the wire: those are still parsed as numbers.
    expect((await t.inject({ method: "GET", url: `/api/hosts/${a}` })).statusCode).toBe(200);
    expect((await t.inject({ method: "GET", url: `/api/migrations?hostId=${a}&limit=5` })).statusCode).toBe(200);
  });

  it("still accepts what is valid", async () => {
    const res = await t.inject(
      createMigration(
        migration({
          source: { lv: "vm-1.disk_0" },
          target: { lv: "vm-1.disk_0+copy" },
          vm: { controller: "libvirt", domain: "web-1" },
          options: { snapshotSizeBytes: 1 << 30, bandwidthLimitBytesPerSecond: 100 << 20 },
        }),
      ),
    );
    expect(res.statusCode).toBe(201);
  });
});

import type { ErrorBody, Host, Migration } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../../test-support/loopback-sshd.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

/** DELETE /hosts/:id with a real SQLite database and a real sshd: refused with the reason, or done whole. */
describe("removing a host", () => {
  let sshd: LoopbackSshd;
  let t: TestApp;
  beforeAll(async () => {
    sshd = await startLoopbackSshd();
    t = await testApp();
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
  });

  const trustedHost = async (name: string): Promise<number> => {
    const added = await t.inject({
      method: "POST",
      url: "/api/hosts",
      payload: { name, address: sshd.host, port: sshd.port, privateKey: sshd.privateKey },
    });
    const id = (added.json() as { host: Host }).host.id;
    const trusted = await t.inject({
      method: "POST",
      url: `/api/hosts/${id}/trust`,
      payload: { fingerprint: sshd.hostKeyFingerprint },
    });
    expect(trusted.statusCode).toBe(200);
    return id;
  };
  const migrate = async (src: number, dst: number, lv: string): Promise<Migration> => {
    const res = await t.inject({
      method: "POST",
      url: "/api/migrations",
      payload: {
        source: { hostId: src, vg: "vg0", lv },
        target: { hostId: dst, vg: "vg0" },
        vm: { controller: "none" },
      },
    });
    expect(res.statusCode).toBe(201);
    return res.json() as Migration;
  };
  const remove = (id: number) => t.inject({ method: "DELETE", url: `/api/hosts/${id}` });
  /** Still listed as trusted, and still usable: the connection was not dropped. */
  const expectIntact = async (id: number) => {
    const host = (await t.inject({ method: "GET", url: `/api/hosts/${id}` })).json() as Host;
    expect(host.status).toBe("trusted");
    const health = await t.inject({ method: "GET", url: `/api/hosts/${id}/health` });
    expect([health.statusCode, health.json()]).toEqual([200, expect.objectContaining({ reachable: true })]);
  };

  it("refuses a host in an unfinished migration with 409 naming it, and leaves the host whole", async () => {
    const [a, b] = [await trustedHost("busy-a"), await trustedHost("busy-b")];
    const job = await migrate(a, b, "vm1");
    const res = await remove(b);
    expect(res.statusCode).toBe(409);
    expect((res.json() as ErrorBody).error).toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(new RegExp(`busy-b is used by unfinished migration ${job.id}`)),
    });
    await expectIntact(b);
  });

  it("refuses a host with only finished migrations with 409 (its history is kept), never half-removed", async () => {
    const [a, b] = [await trustedHost("old-a"), await trustedHost("old-b")];
    const job = await migrate(a, b, "vm2");
    t.db.$client.prepare("update jobs set state='succeeded', phase='done' where id=?").run(job.id);
    const res = await remove(a);
    expect(res.statusCode).toBe(409);
    expect((res.json() as ErrorBody).error).toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining(`old-a has the history of migration ${job.id}`),
      details: { reason: "host_has_history", migrationIds: [job.id] },
    });
    await expectIntact(a);
  });

  it("removes a host without history: row and connection both gone", async () => {
    const id = await trustedHost("spare");
    expect(t.runtime.remote.has(id)).toBe(true);
    const res = await remove(id);
    expect(res.statusCode).toBe(204);
    expect((await t.inject({ method: "GET", url: `/api/hosts/${id}` })).statusCode).toBe(404);
    expect(t.runtime.remote.has(id)).toBe(false);
  });
});

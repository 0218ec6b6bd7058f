import type { Host, StoredEvent } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../../test-support/loopback-sshd.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

/** The host registry over HTTP against a real OpenSSH sshd: add, fingerprint, trust, key change. */
describe("hosts API with a real sshd", () => {
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

  const post = (url: string, payload?: unknown) => t.inject({ method: "POST", url, payload: payload as object });
  let id = 0;

  it("adds a host and reports the fingerprint it presents, without exposing the key", async () => {
    const res = await post("/api/hosts", {
      name: "hv1",
      address: sshd.host,
      port: sshd.port,
      privateKey: sshd.privateKey,
    });
    expect(res.statusCode).toBe(201);
    const body = res.json() as { host: Host; fingerprint: string };
    expect(body.fingerprint).toBe(sshd.hostKeyFingerprint);
    expect(body.host.status).toBe("untrusted");
    expect(res.body).not.toContain("PRIVATE KEY");
    id = body.host.id;
    const list = await t.inject({ method: "GET", url: "/api/hosts" });
    expect(list.body).not.toContain("PRIVATE KEY");
  });

  it("rejects bad keys and duplicate names with clear errors", async () => {
    const bad = await post("/api/hosts", { name: "x", address: "127.0.0.1", privateKey: "not a key" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({
      error: { code: "INVALID_INPUT", message: expect.stringContaining("private key") },
    });
    const both = await post("/api/hosts", {
      name: "y",
      address: "127.0.0.1",
      privateKey: sshd.privateKey,
      privateKeyPath: "/x",
    });
    expect(both.statusCode).toBe(400);
    const dup = await post("/api/hosts", { name: "hv1", address: "127.0.0.1", privateKey: sshd.privateKey });
    expect(dup.statusCode).toBe(409);
  });

  it("refuses to use an untrusted host", async () => {
    const res = await t.inject({ method: "GET", url: `/api/hosts/${id}/health` });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ error: { code: "PRECONDITION_FAILED" } });
  });

  it("trusts only the fingerprint the host really presents", async () => {
    const wrong = await post(`/api/hosts/${id}/trust`, { fingerprint: `SHA256:${"A".repeat(43)}` });
    expect(wrong.statusCode).toBe(409);
    const right = await post(`/api/hosts/${id}/trust`, { fingerprint: sshd.hostKeyFingerprint });
    expect(right.statusCode).toBe(200);
    expect(right.json()).toMatchObject({ status: "trusted", pinnedFingerprint: sshd.hostKeyFingerprint });
    const health = await t.inject({ method: "GET", url: `/api/hosts/${id}/health` });
    expect(health.json()).toMatchObject({ reachable: true, error: null });
  });

  it("blocks a host whose key changed, and records an event and an audit entry", async () => {
    const before = sshd.hostKeyFingerprint;
    await sshd.restart({ newHostKey: true });
    expect(sshd.hostKeyFingerprint).not.toBe(before);
    const health = await t.inject({ method: "GET", url: `/api/hosts/${id}/health` });
    expect(health.json()).toMatchObject({ reachable: false });
    const host = (await t.inject({ method: "GET", url: `/api/hosts/${id}` })).json() as Host;
    expect(host).toMatchObject({
      status: "key_changed",
      pinnedFingerprint: before,
      seenFingerprint: sshd.hostKeyFingerprint,
    });
    const events = (await t.inject({ method: "GET", url: "/api/events" })).json() as { events: StoredEvent[] };
    expect(events.events.find((e) => e.type === "host.key_changed")?.data).toMatchObject({
      hostId: id,
      expected: before,
      presented: sshd.hostKeyFingerprint,
    });
    const audit = t.db.$client.prepare("select action from audit_log where action = 'host.key_changed'").all();
    expect(audit).toHaveLength(1);
    // Nothing runs on it until trusted again.
    const again = await t.inject({ method: "GET", url: `/api/hosts/${id}/inventory` });
    expect(again.statusCode).toBe(422);
    const retrust = await post(`/api/hosts/${id}/trust`, { fingerprint: sshd.hostKeyFingerprint });
    expect(retrust.json()).toMatchObject({ status: "trusted" });
  });
});

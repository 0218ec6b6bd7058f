// The client the dashboard and the CLI share (packages/client) against the real app on a real port: requests map
// the documented error body, and the event stream resumes after a dropped socket with no gap and no duplicate.
import { ApiError, createApiClient, EventStream, parseServerMessage, socketFactory } from "@blockferry/client";
import type { HostList, StoredEvent } from "@blockferry/contracts";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type TestApp, testApp } from "../support/helpers.ts";

describe("shared API client", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  it("returns typed bodies, and an error body as ApiError with code and request id", async () => {
    t = await testApp();
    const client = createApiClient({
      baseUrl: await t.app.listen({ port: 0, host: "127.0.0.1" }),
      token: t.adminToken,
    });
    expect(await client.request<HostList>("GET", "/api/hosts")).toEqual({ hosts: [] });
    const err = await client.request("POST", "/api/hosts", { body: { name: "" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 400, code: expect.any(String), requestId: expect.stringMatching(/.+/) });
    const missing = await client.request("GET", "/api/migrations/999").catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: "NOT_FOUND" });
  });

  it("reports an unreachable server as a NETWORK ApiError", async () => {
    t = await testApp();
    const base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    await t.app.close();
    const err = await createApiClient({ baseUrl: base })
      .request("GET", "/api/hosts")
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 0, code: "NETWORK" });
  });

  it("follows the event stream and resumes after a dropped socket without gap or duplicate", async () => {
    t = await testApp();
    const base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const log = (message: string) => t.hub.append(null, "job.log", { level: "info", message });
    for (let i = 0; i < 3; i++) log(`before ${i}`);
    const got: StoredEvent[] = [];
    const statuses: string[] = [];
    const stream = new EventStream(
      {
        url: `${base.replace("http", "ws")}/api/events/stream`,
        connect: socketFactory((url) => new WebSocket(url, { headers: { authorization: `Bearer ${t.adminToken}` } })),
        initialBackoffMs: 20,
        maxBackoffMs: 100,
      },
      { event: (e) => got.push(e), status: (s) => statuses.push(s) },
    ).start();
    try {
      await expect.poll(() => statuses.at(-1)).toBe("live");
      expect(got).toHaveLength(3);
      for (const client of t.app.websocketServer.clients) client.terminate();
      for (let i = 0; i < 2; i++) log(`while away ${i}`);
      await expect.poll(() => got.length).toBe(5);
      await expect.poll(() => statuses.at(-1)).toBe("live");
      expect(statuses).toContain("reconnecting");
      log("after");
      await expect.poll(() => got.length).toBe(6);
      const ids = got.map((e) => e.id);
      expect(ids).toEqual([1, 2, 3, 4, 5, 6]);
      expect(stream.lastId).toBe(6);
      expect(got.map((e) => (e.type === "job.log" ? e.data.message : e.type)).at(-1)).toBe("after");
    } finally {
      stream.close();
    }
  });
});

describe("parseServerMessage", () => {
  it("types the server's frames and drops anything else", () => {
    const event = { id: 1, jobId: null, seq: 1, at: "t", type: "job.log", data: { level: "info", message: "m" } };
    expect(parseServerMessage(JSON.stringify({ kind: "event", event }))).toEqual({ kind: "event", event });
    expect(parseServerMessage(JSON.stringify({ kind: "ready", lastId: 4 }))).toEqual({ kind: "ready", lastId: 4 });
    for (const bad of ["not json", "null", '{"kind":"event","event":{"id":"1"}}', '{"kind":"ready"}', '{"kind":"x"}'])
      expect(parseServerMessage(bad)).toBeNull();
  });
});

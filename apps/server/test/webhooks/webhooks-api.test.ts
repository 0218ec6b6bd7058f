// Webhooks end to end: the real app and runtime on a migrated SQLite file, a real HTTP receiver on loopback,
// events appended to the real hub as the job executor appends them.

import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { Migration, Webhook, WebhookDelivery } from "@blockferry/contracts";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { hosts } from "../../src/db/schema.ts";
import { type TestApp, type TestInjectOptions, testApp } from "../support/helpers.ts";
import { waitFor } from "../support/wait-for.ts";

const SECRET = "receiver-shared-secret-4f9a2c";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers 500 to the first request; holds the second until `release()`, then answers 200. */
async function flakyReceiver() {
  const received: Received[] = [];
  let release: () => void = () => {};
  const released = new Promise<void>((r) => {
    release = r;
  });
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      if (received.length === 1) res.writeHead(500).end("try later");
      else void released.then(() => res.writeHead(200).end("ok"));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/blockferry`,
    received,
    release,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("webhooks", () => {
  let t: TestApp;
  let receiver: Awaited<ReturnType<typeof flakyReceiver>>;
  afterEach(async () => {
    receiver?.release();
    await t?.close();
    await receiver?.close();
  });

  it("signs deliveries, retries a 500 with backoff, logs both attempts, and never shows the secret", async () => {
    const logLines: string[] = [];
    const logger = pino(
      { level: "trace" },
      new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      }),
    );
    t = await testApp({ logger, webhookPolicy: { baseDelayMs: 50, maxDelayMs: 200 } });
    receiver = await flakyReceiver();
    const responses: string[] = [];
    const call = async (o: TestInjectOptions) => {
      const r = await t.inject(o);
      responses.push(r.body);
      return r;
    };

    const created = await call({
      method: "POST",
      url: "/api/webhooks",
      payload: { url: receiver.url, events: ["cutover.ready", "migration.failed"], secret: SECRET },
    });
    expect(created.statusCode).toBe(201);
    const webhook = created.json() as Webhook;
    expect(webhook).toEqual({
      id: expect.any(Number),
      url: receiver.url,
      events: ["cutover.ready", "migration.failed"],
      createdBy: "admin (token 1)",
      createdAt: expect.any(String),
    });
    const stored = t.db.$client.prepare("select secret from webhooks where id = ?").get(webhook.id) as {
      secret: string;
    };
    expect(stored.secret).toMatch(/^bfenc:v1:/);
    expect(stored.secret).not.toContain(SECRET);

    // A migration reaches waiting_cutover: the executor writes the row, then appends the event.
    const [a, b] = ["a", "b"].map(
      (name) => t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id,
    ) as [number, number];
    const migration = (
      await call({
        method: "POST",
        url: "/api/migrations",
        payload: {
          sourceHostId: a,
          targetHostId: b,
          disks: [
            { source: { vg: "vg0", lv: "vm1" }, target: { vg: "vg0" } },
            { source: { vg: "vg0", lv: "vm1-data" }, target: { vg: "vg0" } },
          ],
          vm: {
            controller: "commands",
            stopSource: "virsh shutdown vm1 --token hunter2",
            startTarget: "start {device}",
          },
        },
      })
    ).json() as Migration;
    t.db.$client
      .prepare("update jobs set state = 'waiting_cutover', phase = 'wait_cutover' where id = ?")
      .run(migration.id);
    t.hub.append(migration.id, "job.state", { state: "waiting_cutover", phase: "wait_cutover" });
    // Not subscribed to: no delivery.
    t.hub.append(migration.id, "job.phase", { phase: "stop_vm" });

    const deliveries = async () =>
      (
        (await call({ method: "GET", url: `/api/webhooks/${webhook.id}/deliveries` })).json() as {
          deliveries: WebhookDelivery[];
        }
      ).deliveries;

    // The first attempt got a 500: the log says so and when the retry is due.
    await waitFor("the second attempt to arrive", () => receiver.received.length === 2);
    const afterFirst = await deliveries();
    expect(afterFirst).toHaveLength(1);
    expect(afterFirst[0]).toMatchObject({
      event: "cutover.ready",
      jobId: migration.id,
      state: "pending",
      attempts: 1,
      lastStatus: 500,
      lastError: "HTTP 500",
      lastAttemptAt: expect.any(String),
      nextAttemptAt: expect.any(String),
    });

    receiver.release();
    const stateOf = () =>
      (t.db.$client.prepare("select state from webhook_deliveries").get() as { state: string } | undefined)?.state;
    await waitFor("the retry to be delivered", () => stateOf() === "delivered");
    const final = await deliveries();
    expect(final[0]).toMatchObject({
      state: "delivered",
      attempts: 2,
      lastStatus: 200,
      lastError: null,
      nextAttemptAt: null,
    });

    // Both attempts: the same delivery, signed over their own timestamp; the signature checks out.
    for (const r of receiver.received) {
      const ts = r.headers["x-blockferry-timestamp"] as string;
      const expected = createHmac("sha256", SECRET).update(`${ts}.${r.body}`).digest("hex");
      expect(r.headers["x-blockferry-signature"]).toBe(`sha256=${expected}`);
      expect(r.headers["x-blockferry-event"]).toBe("cutover.ready");
      expect(r.headers["x-blockferry-delivery"]).toBe(String(final[0]?.id));
      expect(r.headers["content-type"]).toBe("application/json");
      const body = JSON.parse(r.body);
      expect(body).toMatchObject({ event: "cutover.ready", migration: { id: migration.id, state: "waiting_cutover" } });
      // Every disk of the VM, as the API shows them.
      expect(body.migration.disks.map((d: { source: { lv: string } }) => d.source.lv)).toEqual(["vm1", "vm1-data"]);
      expect(typeof body.at).toBe("string");
      // The VM commands are hidden as they are for event listeners.
      expect(r.body).not.toContain("hunter2");
    }

    const listed = await call({ method: "GET", url: "/api/webhooks" });
    expect(listed.json()).toEqual({ webhooks: [webhook] });
    expect((await call({ method: "DELETE", url: `/api/webhooks/${webhook.id}` })).statusCode).toBe(204);
    expect((await call({ method: "GET", url: `/api/webhooks/${webhook.id}/deliveries` })).statusCode).toBe(404);
    const audit = (await call({ method: "GET", url: "/api/audit" })).json() as { entries: { action: string }[] };
    expect(audit.entries.map((e) => e.action)).toEqual(expect.arrayContaining(["webhook.create", "webhook.delete"]));

    expect(logLines.length).toBeGreaterThan(0);
    for (const text of [...responses, ...logLines]) expect(text).not.toContain(SECRET);
  });

  it("is admin only, and takes http(s) URLs without credentials only", async () => {
    t = await testApp();
    const operator = await t.tokenFor("operator");
    const viewer = await t.tokenFor("viewer");
    const payload = { url: "https://hooks.example.com/bf", events: ["migration.succeeded"], secret: SECRET };
    expect((await t.inject({ method: "POST", url: "/api/webhooks", payload, as: operator })).statusCode).toBe(403);
    expect((await t.inject({ method: "GET", url: "/api/webhooks", as: viewer })).statusCode).toBe(403);
    expect((await t.inject({ method: "GET", url: "/api/webhooks", as: "anonymous" })).statusCode).toBe(401);
    expect((await t.inject({ method: "DELETE", url: "/api/webhooks/1", as: operator })).statusCode).toBe(403);
    expect((await t.inject({ method: "GET", url: "/api/webhooks/1/deliveries", as: operator })).statusCode).toBe(403);

    for (const url of ["ftp://example.com/x", "file:///etc/passwd", "https://user:pw@example.com/x", "not a url"]) {
      const r = await t.inject({ method: "POST", url: "/api/webhooks", payload: { ...payload, url } });
      expect(r.statusCode, url).toBe(400);
    }
    const bad = await t.inject({ method: "POST", url: "/api/webhooks", payload: { ...payload, events: ["job.log"] } });
    expect(bad.statusCode).toBe(400);
    expect((await t.inject({ method: "POST", url: "/api/webhooks", payload })).statusCode).toBe(201);
  });
});

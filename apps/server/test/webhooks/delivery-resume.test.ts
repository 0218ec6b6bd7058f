// The delivery worker over a real migrated database and a real receiver: a delivery cut off by shutdown stays
// pending, and the worker of the next process sends it.
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createWebhooksRepo } from "../../src/db/repositories/webhooks.ts";
import { generateKeyring } from "../../src/secrets/keyring.ts";
import { createDeliveryWorker } from "../../src/webhooks/worker.ts";
import { tempDb } from "../support/helpers.ts";
import { waitFor } from "../support/wait-for.ts";

describe("webhook delivery worker", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("leaves an attempt cut off by close() pending, and a new worker on the same database sends it", async () => {
    const held: ServerResponse[] = [];
    let answered = 0;
    const receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        // The first request hangs (the server is shut down meanwhile); later ones are answered.
        if (held.length === 0) held.push(res);
        else {
          answered++;
          res.writeHead(200).end();
        }
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => receiver.close(() => r())));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

    const t = tempDb();
    cleanups.push(() => t.cleanup());
    const repo = createWebhooksRepo(t.db);
    const keyring = generateKeyring();
    const hook = repo.insert({
      url,
      events: ["migration.failed"],
      sealedSecret: keyring.seal("s".repeat(16)),
      createdBy: "t",
    });
    repo.enqueue([{ webhookId: hook.id, event: "migration.failed", jobId: null, body: "{}" }], Date.now());
    const worker = () => createDeliveryWorker({ repo, keyring, logger: pino({ level: "silent" }) });

    const first = worker();
    first.start();
    await waitFor("the first attempt to reach the receiver", () => held.length === 1);
    await first.close();
    expect(repo.deliveries(hook.id, 10)[0]).toMatchObject({ state: "pending", attempts: 0 });
    for (const res of held) res.destroy();

    const second = worker();
    cleanups.push(() => second.close());
    second.start();
    await waitFor("the delivery to be sent again", () => repo.deliveries(hook.id, 10)[0]?.state === "delivered");
    expect(answered).toBe(1);
    expect(repo.deliveries(hook.id, 10)[0]).toMatchObject({ attempts: 1, lastStatus: 200, nextAttemptAt: null });
  });
});

import type { ServerMessage, StoredEvent } from "@blockferry/contracts";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type TestApp, testApp } from "../../support/helpers.ts";
import { seedJob } from "../../support/job-seed.ts";

/** A real websocket client that records what it receives. */
async function connect(base: string, query: string, token: string) {
  const ws = new WebSocket(`${base.replace("http", "ws")}/api/events/stream?${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const received: ServerMessage[] = [];
  ws.on("message", (raw) => received.push(JSON.parse(String(raw)) as ServerMessage));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const until = async (pred: () => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error("timed out waiting for messages");
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const events = () =>
    received.filter((m): m is Extract<ServerMessage, { kind: "event" }> => m.kind === "event").map((m) => m.event);
  const close = () =>
    new Promise<void>((resolve) => {
      ws.once("close", () => resolve());
      ws.close();
    });
  return { ws, received, events, until, close };
}

const makeJob = (t: TestApp): number => seedJob(t.db).job.id;

describe("event stream over a real websocket", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  it("resumes after a disconnect with no gap and no duplicate", async () => {
    t = await testApp();
    const base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const job = makeJob(t);
    const other = makeJob(t);
    for (let i = 0; i < 5; i++) t.hub.append(job, "job.log", { level: "info", message: String(i) });

    const first = await connect(base, `jobId=${job}&after=0`, t.adminToken);
    await first.until(() => first.events().length === 5);
    for (let i = 5; i < 8; i++) t.hub.append(job, "job.log", { level: "info", message: String(i) });
    t.hub.append(other, "job.log", { level: "info", message: "-1" }); // another job's event must not leak in
    await first.until(() => first.events().length === 8);
    const lastId = first.events().at(-1)?.id ?? 0;
    await first.close();

    // Written while nobody listens: must arrive after reconnecting.
    for (let i = 8; i < 20; i++) t.hub.append(job, "job.log", { level: "info", message: String(i) });

    const second = await connect(base, `jobId=${job}&after=${lastId}`, t.adminToken);
    // And written while the replay is happening.
    for (let i = 20; i < 25; i++) t.hub.append(job, "job.log", { level: "info", message: String(i) });
    await second.until(() => second.events().length === 17);
    const all: StoredEvent[] = [...first.events(), ...second.events()];
    expect(all.map((e) => (e.type === "job.log" ? Number(e.data.message) : null))).toEqual(
      Array.from({ length: 25 }, (_, i) => i),
    );
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(new Set(all.map((e) => e.id)).size).toBe(25);
    await second.close();
  });

  it("follows all jobs when no job is named", async () => {
    t = await testApp();
    const base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const a = makeJob(t);
    const b = makeJob(t);
    t.hub.append(a, "job.phase", { phase: "snapshot" });
    const c = await connect(base, "after=0", t.adminToken);
    t.hub.append(b, "job.phase", { phase: "full_copy" });
    t.hub.append(null, "host.key_changed", { hostId: 1, name: "a", expected: null, presented: "SHA256:x" });
    await c.until(() => c.events().length === 3);
    expect(c.events().map((e) => e.type)).toEqual(["job.phase", "job.phase", "host.key_changed"]);
    await c.close();
  });

  it("throttles progress to about ten messages a second per job and delivers the latest counters", async () => {
    t = await testApp();
    const base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const job = makeJob(t);
    const c = await connect(base, `jobId=${job}`, t.adminToken);
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 1000) {
      n++;
      t.hub.progress({
        jobId: job,
        phase: "full_copy",
        bytesDone: n,
        bytesTotal: 1e9,
        rangesDone: n,
        rangesTotal: 1e6,
        bytesPerSecond: 0,
        etaSeconds: null,
        doneRuns: [[n, 1]],
      });
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 250));
    const progress = c.received.flatMap((m) => (m.kind === "progress" ? [m.progress] : []));
    expect(n).toBeGreaterThan(500);
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress.length).toBeLessThanOrEqual(13);
    expect(progress.at(-1)?.bytesDone).toBe(n);
    // Every chunk run offered reaches the client exactly once, though coalesced into few messages.
    expect(progress.flatMap((p) => p.doneRuns ?? []).map(([f]) => f)).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
    await c.close();
  });
});

// The websocket client the dashboard and the CLI share (packages/client) against the real server: it replays, follows
// live events, and after a dropped connection or a whole server restart it reconnects by itself and resumes after
// the last event it delivered, with no gap and no duplicate. Node runs the client with the `ws` package, which
// authenticates with an admin API token (a browser sends its session cookie instead).
import { createRequire } from "node:module";
import { EventStream, type StreamStatus, socketFactory, type WebSocketLike } from "@blockferry/client";
import type { StoredEvent } from "@blockferry/contracts";
import { loadConfig, type RunningServer, startServer } from "@blockferry/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDashboardServer, tokenHeaders } from "./dashboard-support.ts";

// Loaded untyped: e2e has `ws` but not @types/ws, and the client only needs the WebSocketLike surface.
type Message = { data: unknown };
type Close = { code: number; reason: string };
const WebSocket = createRequire(import.meta.url)("ws") as new (
  url: string,
  protocols: string[],
  options: { headers: Record<string, string> },
) => WebSocketLike<Message, Close>;

describe("dashboard event stream client", () => {
  let server: RunningServer;
  let dataDir: string;
  let token: string | undefined;
  const connect = socketFactory((url) => new WebSocket(url, [], { headers: { authorization: `Bearer ${token}` } }));
  beforeAll(async () => {
    const s = await startDashboardServer("stream");
    server = s;
    dataDir = s.dataDir;
    token = s.adminToken;
  });
  afterAll(async () => server?.close());

  const append = (n: number, tag: string) => {
    for (let i = 0; i < n; i++) server.runtime.hub.append(null, "job.log", { level: "info", message: tag });
  };
  const storedIds = async () => {
    // The token is stored in the database, so it still works after the restart below.
    const res = await fetch(`${server.url}/api/events?after=0&limit=1000`, { headers: tokenHeaders(token) });
    return ((await res.json()) as { events: StoredEvent[] }).events.map((e) => e.id);
  };

  it("replays, follows, and resumes after a dropped socket and after a server restart without gaps or duplicates", async () => {
    append(5, "before");
    const got: StoredEvent[] = [];
    const statuses: StreamStatus[] = [];
    const stream = new EventStream(
      {
        url: `${server.url.replace("http", "ws")}/api/events/stream`,
        connect,
        initialBackoffMs: 50,
        maxBackoffMs: 400,
      },
      { event: (e) => got.push(e), status: (s) => statuses.push(s) },
    ).start();
    try {
      await expect.poll(() => got.length, { timeout: 15_000 }).toBe(5);
      await expect.poll(() => statuses.at(-1), { timeout: 15_000 }).toBe("live");
      append(3, "live");
      await expect.poll(() => got.length, { timeout: 15_000 }).toBe(8);

      // Drop every socket on the server side, then store events while the client is away.
      for (const client of server.app.websocketServer.clients) client.terminate();
      append(4, "while-dropped");
      await expect.poll(() => got.length, { timeout: 5_000 }).toBe(12);
      expect(statuses).toContain("reconnecting");

      // A whole restart on the same port and database: the client keeps retrying until it is back.
      const port = Number(new URL(server.url).port);
      await server.close();
      await new Promise((r) => setTimeout(r, 300));
      server = await startServer(
        loadConfig(["--port", String(port), "--data-dir", dataDir], { BLOCKFERRY_LOG_LEVEL: "warn" }),
      );
      append(2, "after-restart");
      await expect.poll(() => got.length, { timeout: 10_000 }).toBe(14);
      await expect.poll(() => statuses.at(-1), { timeout: 15_000 }).toBe("live");

      const ids = got.map((e) => e.id);
      expect(ids).toEqual(await storedIds());
      expect(new Set(ids).size).toBe(ids.length);
      expect(stream.lastId).toBe(ids.at(-1));
      expect(got.map((e) => (e.type === "job.log" ? e.data.message : e.type))).toEqual([
        ...Array(5).fill("before"),
        ...Array(3).fill("live"),
        ...Array(4).fill("while-dropped"),
        ...Array(2).fill("after-restart"),
      ]);
    } finally {
      stream.close();
    }
    expect(statuses.at(-1)).toBe("closed");
  });

  it("starts after a given event id", async () => {
    const ids = await storedIds();
    const from = ids[ids.length - 3] as number;
    const got: number[] = [];
    const stream = new EventStream(
      { url: `${server.url.replace("http", "ws")}/api/events/stream`, after: from, connect },
      { event: (e) => got.push(e.id) },
    ).start();
    try {
      await expect.poll(() => got, { timeout: 15_000 }).toEqual(ids.slice(-2));
    } finally {
      stream.close();
    }
  });
});

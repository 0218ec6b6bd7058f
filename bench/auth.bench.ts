// What access control costs, against a real server over loopback HTTP, side by side with a baseline each:
// - the guard per request: GET /api/health with a bearer token and with a session cookie vs. with no credentials;
// - a login (argon2id verify) vs. a token-authenticated request;
// - the event socket's replay of a long history: the event loop's worst stall while 10 sockets replay 20k events
//   each in pages, vs. the same history replayed the old way (one synchronous burst, hub.follow).
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type WebSocketType from "../apps/server/node_modules/@types/ws/index.d.ts";
import { loadConfig } from "../apps/server/src/config.ts";
import { startServer } from "../apps/server/src/server.ts";
import { SESSION_COOKIE } from "../packages/contracts/src/auth.ts";

// `ws` is the server package's (dev) dependency; the bench borrows it from there.
const WebSocket = createRequire(join(import.meta.dirname, "../apps/server/package.json"))("ws") as typeof WebSocketType;

const N = Number(process.env.BF_BENCH_REQUESTS ?? 400);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const line = (o: object) => process.stdout.write(`${JSON.stringify({ bench: "auth", ...o })}\n`);

const dir = mkdtempSync(join(tmpdir(), "bf-bench-auth-"));
const server = await startServer(loadConfig(["--port", "0", "--data-dir", dir], { BLOCKFERRY_LOG_LEVEL: "silent" }));
try {
  const auth = server.runtime.auth;
  const password = "bench password, long enough";
  const user = await auth.accounts.create({ username: "bench", password, role: "admin" });
  const owner = { userId: user.id, username: "bench", role: "admin" as const, via: "session" as const };
  const { token } = auth.tokens.create({ name: "bench", role: "admin" }, owner, { name: "bench" });
  const session = auth.sessions.openFor(user.id, null);

  /** Median ms of N sequential GETs with these headers (after a warm-up). */
  const timeGets = async (path: string, headers: Record<string, string>) => {
    const ms: number[] = [];
    for (let i = 0; i < N + 50; i++) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}${path}`, { headers });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`${path}: ${res.status}`);
      if (i >= 50) ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  // Interleaved rounds, so load from elsewhere on the machine hits all three alike.
  const plain: number[] = [];
  const bearer: number[] = [];
  const cookie: number[] = [];
  for (let round = 0; round < 3; round++) {
    plain.push(await timeGets("/api/health", {}));
    bearer.push(await timeGets("/api/health", { authorization: `Bearer ${token}` }));
    cookie.push(await timeGets("/api/health", { cookie: `${SESSION_COOKIE}=${session.token}` }));
  }
  line({
    case: "guard_per_request",
    plain_ms: median(plain),
    bearer_ms: median(bearer),
    cookie_ms: median(cookie),
    bearer_ratio: median(bearer) / median(plain),
    cookie_ratio: median(cookie) / median(plain),
  });

  const logins: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/api/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "bench", password }),
    });
    if (!res.ok) throw new Error(`login: ${res.status}`);
    logins.push(performance.now() - t0);
  }
  line({ case: "login", login_ms: median(logins), token_request_ms: median(bearer) });

  const EVENTS = 20_000;
  const insert = server.runtime.db.$client.prepare(
    "insert into job_events (job_id, seq, type, data) values (null, ?, 'job.log', ?)",
  );
  server.runtime.db.$client.transaction(() => {
    for (let i = 0; i < EVENTS; i++) insert.run(i, JSON.stringify({ level: "info", message: `event ${i} `.repeat(8) }));
  })();

  /** The worst event-loop stall (ms) while `work` runs. */
  const worstStall = async (work: () => Promise<void>) => {
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    await work();
    h.disable();
    return h.max / 1e6;
  };
  const oldWay = await worstStall(async () => {
    for (let s = 0; s < 10; s++) {
      const unsubscribe = server.runtime.hub.follow({}, 0, {
        event: (e: unknown) => JSON.stringify(e),
        progress: () => {},
      });
      unsubscribe();
      await new Promise((r) => setImmediate(r));
    }
  });
  const paged = await worstStall(async () => {
    await Promise.all(
      Array.from(
        { length: 10 },
        () =>
          new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(`${server.url.replace("http", "ws")}/api/events/stream`, {
              headers: { authorization: `Bearer ${token}` },
            });
            ws.on("message", (raw: Buffer) => {
              if (String(raw).startsWith('{"kind":"ready"')) {
                ws.close();
                resolve();
              }
            });
            ws.once("error", reject);
          }),
      ),
    );
  });
  line({ case: "replay_stall", events: EVENTS, sockets: 10, paged_max_stall_ms: paged, burst_max_stall_ms: oldWay });
} finally {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}

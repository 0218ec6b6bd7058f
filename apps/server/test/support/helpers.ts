import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Role } from "@blockferry/contracts";
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify";
import pino from "pino";
import { buildApp } from "../../src/app.ts";
import { servedNames } from "../../src/auth/index.ts";
import type { SessionPolicy } from "../../src/auth/sessions.ts";
import { type Db, openDb } from "../../src/db/open.ts";
import type { EventHub } from "../../src/events/hub.ts";
import { createRuntime, type Runtime, type RuntimeOptions } from "../../src/runtime.ts";
import { generateKeyring } from "../../src/secrets/keyring.ts";

/** A real SQLite file in a temp dir with the real migrations applied. */
export function tempDb(): { db: Db; dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "blockferry-test-"));
  const db = openDb(join(dir, "test.db"));
  return {
    db,
    dir,
    cleanup() {
      db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestInjectOptions extends InjectOptions {
  /** An API token to send instead of the admin's; "anonymous" sends no credentials. */
  as?: string | "anonymous";
}

export interface TestApp {
  app: FastifyInstance;
  db: Db;
  hub: EventHub;
  runtime: Runtime;
  /** Bearer token of the admin every test app starts with. */
  adminToken: string;
  /**
   * inject() as a well-behaved client: the admin's token (or `as`), and `content-type: application/json` on unsafe
   * requests that set none (the API refuses anything else with 415).
   */
  inject(opts: TestInjectOptions): Promise<LightMyRequestResponse>;
  /** A new user with `role` and an API token of theirs. */
  tokenFor(role: Role, username?: string): Promise<string>;
  close(): Promise<void>;
}

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** A new user with `role`, created through the real accounts service, and an API token of theirs. */
export async function tokenOfNewUser(
  runtime: Pick<Runtime, "auth">,
  role: Role,
  username = `${role}-${crypto.randomUUID().slice(0, 8)}`,
): Promise<string> {
  const user = await runtime.auth.accounts.create({ username, password: "correct horse battery", role });
  const owner = { userId: user.id, username, role, via: "session" as const };
  return runtime.auth.tokens.create({ name: `${username}-token`, role }, owner, { name: username }).token;
}

/** The real runtime on a temp database; the runner is not started unless asked. */
export async function testApp(
  opts: {
    webDir?: string;
    startRunner?: boolean;
    sessionPolicy?: SessionPolicy;
    keyDir?: string;
    logger?: pino.Logger;
  } & Partial<Pick<RuntimeOptions, "createMover" | "runner" | "keyring" | "webhookPolicy">> = {},
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), "blockferry-test-"));
  const runtime = createRuntime(
    { dbFile: join(dir, "test.db"), keyDir: opts.keyDir },
    {
      logger: opts.logger ?? pino({ level: "silent" }),
      createMover:
        opts.createMover ??
        (() => {
          const refuse = async () => {
            throw new Error("this test runs no transfers");
          };
          return { copyFull: refuse, copyExtents: refuse, verify: refuse };
        }),
      runner: opts.runner,
      webhookPolicy: opts.webhookPolicy,
      sessionPolicy: opts.sessionPolicy,
      keyring: opts.keyring ?? generateKeyring(),
    },
  );
  await runtime.ready;
  const app = await buildApp(
    { version: "test", sshNativeCrypto: true, webDir: opts.webDir, served: servedNames("127.0.0.1"), ...runtime },
    opts.logger ? { loggerInstance: opts.logger } : { logger: false },
  );
  const tokenFor = (role: Role, username?: string) => tokenOfNewUser(runtime, role, username);
  const adminToken = await tokenFor("admin", "admin");
  if (opts.startRunner) runtime.runner.start();
  // As server.ts does: it only sends deliveries a test's webhooks made.
  runtime.webhookWorker.start();
  return {
    app,
    db: runtime.db,
    hub: runtime.hub,
    runtime,
    adminToken,
    tokenFor,
    inject({ as, ...o }) {
      const headers: Record<string, string> = {};
      if (as !== "anonymous") headers.authorization = `Bearer ${as ?? adminToken}`;
      if (!SAFE.has((o.method ?? "GET").toUpperCase())) headers["content-type"] = "application/json";
      return app.inject({ ...o, headers: { ...headers, ...(o.headers as Record<string, string> | undefined) } });
    },
    async close() {
      await app.close();
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

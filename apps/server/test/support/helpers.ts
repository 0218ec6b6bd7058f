import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp } from "../../src/app.ts";
import { type Db, openDb } from "../../src/db/open.ts";
import type { EventHub } from "../../src/events/hub.ts";
import { createRuntime, type Runtime, type RuntimeOptions } from "../../src/runtime.ts";

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

export interface TestApp {
  app: FastifyInstance;
  db: Db;
  hub: EventHub;
  runtime: Runtime;
  close(): Promise<void>;
}

/** The real runtime on a temp database; the runner is not started unless asked. */
export async function testApp(
  opts: { webDir?: string; startRunner?: boolean; logger?: pino.Logger } & Partial<
    Pick<RuntimeOptions, "createMover" | "runner">
  > = {},
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), "blockferry-test-"));
  const runtime = createRuntime(
    { dbFile: join(dir, "test.db") },
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
    },
  );
  const app = await buildApp(
    { version: "test", sshNativeCrypto: true, webDir: opts.webDir, ...runtime },
    opts.logger ? { loggerInstance: opts.logger } : { logger: false },
  );
  if (opts.startRunner) runtime.runner.start();
  return {
    app,
    db: runtime.db,
    hub: runtime.hub,
    runtime,
    async close() {
      await app.close();
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

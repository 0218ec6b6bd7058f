import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app.ts";
import { type Db, openDb } from "../src/db/open.ts";
import { createEventsRepo } from "../src/db/repositories/events.ts";
import { EventHub } from "../src/events/hub.ts";

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
  close(): Promise<void>;
}

export async function testApp(opts: { progressIntervalMs?: number; webDir?: string } = {}): Promise<TestApp> {
  const t = tempDb();
  const events = createEventsRepo(t.db);
  const hub = new EventHub(events, { progressIntervalMs: opts.progressIntervalMs });
  const app = await buildApp(
    { version: "test", sshNativeCrypto: true, hub, events, webDir: opts.webDir },
    { logger: false },
  );
  return {
    app,
    db: t.db,
    hub,
    async close() {
      hub.close();
      await app.close();
      t.cleanup();
    },
  };
}

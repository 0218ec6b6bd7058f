import { createRequire } from "node:module";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.ts";
import type { Config } from "./config.ts";
import { type Db, openDb } from "./db/open.ts";
import { createEventsRepo } from "./db/repositories/events.ts";
import { EventHub } from "./events/hub.ts";

export const VERSION = "0.1.0";

/** ssh2 falls back to slow pure-JS AES-GCM when its addon was not built; say so loudly at startup. */
export function sshNativeCryptoAvailable(): boolean {
  const require = createRequire(import.meta.url);
  try {
    return Boolean((require("ssh2/lib/protocol/crypto.js") as { bindingAvailable?: boolean }).bindingAvailable);
  } catch {
    return false;
  }
}

export interface RunningServer {
  app: FastifyInstance;
  db: Db;
  url: string;
  close(): Promise<void>;
}

/** Opens the database (migrating it), builds the app and listens. Process signals are the caller's business. */
export async function startServer(config: Config): Promise<RunningServer> {
  const db = openDb(config.dbFile);
  const events = createEventsRepo(db);
  const hub = new EventHub(events);
  const sshNativeCrypto = sshNativeCryptoAvailable();
  const app = await buildApp(
    { version: VERSION, sshNativeCrypto, hub, events, webDir: config.webDir },
    {
      logger: {
        level: config.logLevel,
        redact: ["req.headers.authorization", "*.privateKey", "privateKey"],
      },
      connectionTimeout: 30_000,
      requestTimeout: 60_000,
      forceCloseConnections: true,
    },
  );
  if (!sshNativeCrypto) app.log.warn("ssh2 native crypto addon missing: transfers will be slow");
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  let closed = false;
  return {
    app,
    db,
    url: `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`,
    async close() {
      if (closed) return;
      closed = true;
      hub.close();
      await app.close();
      db.$client.close();
    },
  };
}

import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp } from "./app.ts";
import type { Config } from "./config.ts";
import { createTransferJournal } from "./db/repositories/transfer-journal.ts";
import { createTransferMover } from "./jobs/transfer-mover.ts";
import { createRuntime, type Runtime, type RuntimeOptions } from "./runtime.ts";

export const VERSION = "0.1.0";

const defaultMover: RuntimeOptions["createMover"] = (remote, db) =>
  createTransferMover(remote, createTransferJournal(db));

export interface RunningServer {
  app: FastifyInstance;
  runtime: Runtime;
  url: string;
  close(): Promise<void>;
}

/**
 * Opens the database (migrating it), wires the runtime, builds the app, listens, then starts the job
 * runner (which resumes any job a previous process left running). Signals are the caller's business.
 */
export async function startServer(
  config: Config,
  opts: Partial<Pick<RuntimeOptions, "runner" | "snapshotWatchMs" | "createMover">> = {},
): Promise<RunningServer> {
  // One logger for HTTP and the runtime; key material, credentials and the operator's VM commands (which may hold
  // tokens; the VM controller logs them itself, redacted, at debug level) are redacted wherever they might appear.
  const logger = pino({
    level: config.logLevel,
    redact: [
      "req.headers.authorization",
      "req.headers.cookie",
      "*.privateKey",
      "privateKey",
      "*.passphrase",
      ...["stopSource", "startSource", "startTarget"].flatMap((k) => [`vm.${k}`, `*.vm.${k}`, `*.*.vm.${k}`]),
    ],
  });
  const runtime = createRuntime(config, { createMover: defaultMover, ...opts, logger });
  const app = await buildApp(
    { version: VERSION, sshNativeCrypto: runtime.remote.cryptoBindingAvailable, webDir: config.webDir, ...runtime },
    {
      loggerInstance: logger,
      connectionTimeout: 30_000,
      requestTimeout: 60_000,
      forceCloseConnections: true,
    },
  );
  await app.listen({ port: config.port, host: config.host });
  runtime.runner.start();
  runtime.reconcile().catch((err: unknown) => app.log.warn({ err }, "startup reconciliation failed"));
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  let closed = false;
  const server = app;
  return {
    app: server,
    runtime,
    url: `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`,
    async close() {
      if (closed) return;
      closed = true;
      await runtime.runner.stop();
      await server.close();
      await runtime.close();
    },
  };
}

import { mkdirSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildApp } from "./app.ts";
import { servedNames } from "./auth/index.ts";
import type { Config } from "./config.ts";
import { ensurePrivateDir } from "./data-dir.ts";
import { createAuditRepo } from "./db/repositories/audit.ts";
import { createHostsRepo } from "./db/repositories/hosts.ts";
import { createTransferJournal } from "./db/repositories/transfer-journal.ts";
import { createTransferMover } from "./jobs/transfer-mover.ts";
import { createRuntime, type Runtime, type RuntimeOptions } from "./runtime.ts";
import { openKeyring } from "./secrets/kek-file.ts";

export const VERSION = "0.1.0";

const defaultMover: RuntimeOptions["createMover"] = (remote, db, onConfirmedBytes, instance) =>
  createTransferMover(remote, createTransferJournal(db, undefined, onConfirmedBytes), {
    hosts: createHostsRepo(db),
    audit: createAuditRepo(db),
    instance,
  });

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
  opts: Partial<Pick<RuntimeOptions, "runner" | "snapshotWatchMs" | "changeReadMs" | "createMover">> = {},
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
      ...["stopSource", "startSource", "startTarget", "status"].flatMap((k) => [`vm.${k}`, `*.vm.${k}`, `*.*.vm.${k}`]),
    ],
  });
  const looser = ensurePrivateDir(config.dataDir);
  if (looser !== null)
    logger.warn({ dataDir: config.dataDir, was: looser.toString(8) }, "data directory was open to others: now 0700");
  mkdirSync(config.keyDir, { recursive: true, mode: 0o700 });
  const { keyring, source } = openKeyring({ dataDir: config.dataDir, envKey: config.secretKey });
  logger.info(
    { keyId: keyring.keyId, from: source.kind === "env" ? "BLOCKFERRY_SECRET_KEY" : source.path },
    source.kind === "file" && source.created
      ? "created a new secret key: back it up with the database"
      : "secret key loaded",
  );
  if (source.kind === "file" && source.pending)
    logger.warn(
      { file: source.pending },
      "an interrupted `blockferry secrets rotate` left this key; it is used to read, run the rotation again",
    );
  const runtime = createRuntime(config, { createMover: defaultMover, ...opts, logger, keyring });
  await runtime.ready;
  const app = await buildApp(
    {
      version: VERSION,
      sshNativeCrypto: runtime.remote.cryptoBindingAvailable,
      webDir: config.webDir,
      served: servedNames(config.host, config.publicUrl),
      secureCookie: config.publicUrl?.startsWith("https:") ?? false,
      ...runtime,
    },
    {
      loggerInstance: logger,
      connectionTimeout: 30_000,
      requestTimeout: 60_000,
      forceCloseConnections: true,
    },
  );
  await app.listen({ port: config.port, host: config.host });
  // Before any job resumes, so the sweep can never remove the fresh access of a copy of this process.
  const swept = await runtime.sweepDirectAccess();
  if (swept) app.log.warn({ swept }, "removed direct-path access left by an earlier run");
  runtime.runner.start();
  runtime.webhookWorker.start();
  runtime.reconcile().catch((err: unknown) => app.log.warn({ err }, "startup reconciliation failed"));
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = config.publicUrl ?? `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  announceSetup(app, runtime, url);
  runtime.auth.sessions.prune();
  const pruning = setInterval(() => runtime.auth.sessions.prune(), 15 * 60_000).unref();
  let closed = false;
  const server = app;
  return {
    app: server,
    runtime,
    url: `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(pruning);
      await runtime.runner.stop();
      await server.close();
      await runtime.close();
    },
  };
}

/**
 * With no account yet, the log gets a one-time link whose token lets the first visitor create the admin. It is the
 * only secret the server ever logs: whoever reads this log could also read the data dir.
 */
function announceSetup(app: FastifyInstance, runtime: Runtime, url: string): void {
  const token = runtime.auth.firstRun.token();
  if (!token) return;
  const link = `${url}/setup#token=${token}`;
  app.log.warn({ setupUrl: link }, "no account exists yet: open the setup link to create the first admin");
  // Also plainly on stderr: the JSON log line is easy to miss on a first start.
  process.stderr.write(
    `\nBlockferry first-run setup: open ${link}\n(or create an admin offline: pnpm blockferry users add NAME --role admin --password-stdin)\n\n`,
  );
}

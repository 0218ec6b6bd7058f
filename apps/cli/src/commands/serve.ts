import { ConfigError, loadConfig, startServer } from "@blockferry/server";

/** `blockferry serve [--port N] [--host ADDR] [--data-dir DIR] [--key-dir DIR] [--log-level L] [--web-dir DIR]` */
export async function run(argv: string[]): Promise<number> {
  const started = performance.now();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`blockferry serve: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const server = await startServer(config);
  const ms = Math.round(performance.now() - started);
  server.app.log.info({ url: server.url, db: config.dbFile, startupMs: ms }, "blockferry listening");
  process.stdout.write(`Blockferry dashboard: ${server.url}/  (database ${config.dbFile})\n`);

  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      server.app.log.info({ signal }, "shutting down");
      server.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}

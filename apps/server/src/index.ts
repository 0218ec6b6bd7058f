export { type AppDeps, appPlugin, buildApp } from "./app.ts";
export { type Config, ConfigError, loadConfig } from "./config.ts";
export { type Db, openDb } from "./db/open.ts";
export { type RunningServer, startServer, VERSION } from "./server.ts";

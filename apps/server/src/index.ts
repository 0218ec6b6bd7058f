export { type AppDeps, appPlugin, buildApp } from "./app.ts";
export { type Config, ConfigError, loadConfig } from "./config.ts";
export { DatabaseBusyError, type Db, openDb } from "./db/open.ts";
export {
  decodeKek,
  NEW_SECRET_KEY_ENV,
  openKeyring,
  RotateError,
  type RotateResult,
  rotateSecretKey,
  SecretKeyError,
  StoredSecretError,
} from "./secrets/index.ts";
export { type RunningServer, startServer, VERSION } from "./server.ts";

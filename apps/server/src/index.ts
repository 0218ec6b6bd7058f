export { type AppDeps, appPlugin, buildApp } from "./app.ts";
export { type Auth, createAuth } from "./auth/index.ts";
export type { Principal } from "./auth/principal.ts";
export { type Config, ConfigError, loadConfig } from "./config.ts";
export { DatabaseBusyError, type Db, openDb } from "./db/open.ts";
export { type Actor, type AuditRepo, createAuditRepo } from "./db/repositories/audit.ts";
export { DomainError } from "./errors.ts";
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

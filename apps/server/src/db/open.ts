import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { installRoot } from "../paths.ts";
import * as schema from "./schema.ts";

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export const MIGRATIONS_DIR = join(installRoot(), "migrations");

/**
 * Opens (creating if needed) the SQLite database and brings its schema up to date.
 * WAL lets readers run beside the single writer; the busy timeout rides out short lock waits.
 */
export function openDb(file: string): Db {
  if (file !== ":memory:") {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Created 0600 by us: SQLite gives the -wal and -shm files it makes later the mode of the database file.
    closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT, 0o600));
    ownerOnly(file);
  }
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("synchronous = NORMAL");
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  // The migration wrote, so the -wal and -shm exist now; files left by an older version may be looser.
  if (file !== ":memory:") for (const f of [`${file}-wal`, `${file}-shm`]) if (existsSync(f)) ownerOnly(f);
  return db as Db;
}

/** Another process has the database open (the server, most likely). */
export class DatabaseBusyError extends Error {
  constructor(file: string) {
    super(`${file} is in use by another process: stop the Blockferry server first`);
    this.name = "DatabaseBusyError";
  }
}

/**
 * Opens an existing database for an offline maintenance command (no migration): it refuses while any other
 * connection is open, and keeps every other one out until closed (exclusive locking mode holds the lock past
 * each transaction). Commits are fully synced, so a file change made after a commit can rely on it.
 */
export function openDbExclusive(file: string): Db {
  const sqlite = new Database(file, { fileMustExist: true, timeout: 0 });
  try {
    sqlite.pragma("locking_mode = EXCLUSIVE");
    sqlite.pragma("synchronous = FULL");
    sqlite.pragma("foreign_keys = ON");
    sqlite.exec("BEGIN EXCLUSIVE; COMMIT");
  } catch (err) {
    sqlite.close();
    if ((err as { code?: string }).code?.startsWith("SQLITE_BUSY")) throw new DatabaseBusyError(file);
    throw err;
  }
  return drizzle(sqlite, { schema }) as Db;
}

/** The database holds sealed keys, audit and job history: readable by its owner only. */
function ownerOnly(file: string): void {
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
}

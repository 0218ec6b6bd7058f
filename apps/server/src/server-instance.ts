// This server's instance id: 8 hex digits, made once and kept beside the database, that name its direct-path
// access on the hosts (`blockferry-migration-<instance>-<job>`, `/run/blockferry-<instance>-<job>`). Two servers
// sharing hypervisors (or on one host) then never sweep or overwrite each other's grants.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { validateServerInstance } from "@blockferry/lvm";

export const INSTANCE_FILE = "instance-id";

/**
 * The id kept in `<dir>/instance-id`, made on first use. An in-memory database has no directory: it gets a fresh
 * id per process (nothing of it outlives the process anyway).
 */
export function serverInstance(dbFile: string): string {
  if (dbFile === ":memory:") return randomBytes(4).toString("hex");
  const path = join(dirname(dbFile), INSTANCE_FILE);
  try {
    return validateServerInstance(readFileSync(path, "utf8").trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const id = randomBytes(4).toString("hex");
  // "wx": a second process starting at the same moment keeps the first one's id.
  try {
    writeFileSync(path, `${id}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return validateServerInstance(readFileSync(path, "utf8").trim());
  }
  return id;
}

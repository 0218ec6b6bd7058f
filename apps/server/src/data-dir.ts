import { chmodSync, mkdirSync, statSync } from "node:fs";

/**
 * Creates the data directory 0700, or tightens an existing one to 0700 (it holds secret.key and the database).
 * Returns the mode it had when it was looser, for the caller to warn about; null when nothing changed.
 */
export function ensurePrivateDir(dir: string): number | null {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  chmodSync(dir, 0o700);
  return mode;
}

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository (or install) root: the first folder above this module that holds `migrations/`. Works both
 * from source (apps/server/src) and from the bundle (apps/cli/dist).
 */
export function installRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    if (existsSync(join(dir, "migrations", "meta", "_journal.json"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the migrations folder above ${from}`);
    dir = up;
  }
}

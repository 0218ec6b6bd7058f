import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file lives in e2e/lab/). */
export const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** Guest-side files copied into the initramfs. */
export const guestDir = fileURLToPath(new URL("./guest", import.meta.url));

/** Downloaded kernels and built initramfs images; reused across runs and checkouts. */
export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "blockferry-lab");
}

/** Where `pnpm lab` keeps its hosts (pid, port, keys, disks). Override with BLOCKFERRY_LAB_DIR. */
export function defaultLabDir(): string {
  return process.env.BLOCKFERRY_LAB_DIR ? resolve(process.env.BLOCKFERRY_LAB_DIR) : join(repoRoot, ".lab");
}

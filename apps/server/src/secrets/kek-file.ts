// The key-encryption key on disk: `<data-dir>/secret.key`, 32 raw bytes, mode 0600, created once and never
// overwritten except by `blockferry secrets rotate` (see rotate.ts for the crash-safe order of its steps).
import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { decodeBase64, KEK_BYTES, SecretFormatError } from "./envelope.ts";
import { createKeyring, generateKek, type Keyring } from "./keyring.ts";

export const SECRET_KEY_FILE = "secret.key";
/** Written by an interrupted rotation: may hold the key the database was re-encrypted under. */
export const PENDING_KEY_FILE = "secret.key.new";
export const SECRET_KEY_ENV = "BLOCKFERRY_SECRET_KEY";

/** The KEK cannot be loaded: the server refuses to start rather than guess. */
export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretKeyError";
  }
}

/** Base64 of exactly 32 bytes, as `openssl rand -base64 32` prints it. */
export function decodeKek(text: string, name: string): Buffer {
  let kek: Buffer;
  try {
    kek = decodeBase64(text.trim(), name);
  } catch (err) {
    if (err instanceof SecretFormatError)
      throw new SecretKeyError(`${name} must be base64 of ${KEK_BYTES} bytes (openssl rand -base64 32)`);
    throw err;
  }
  if (kek.length !== KEK_BYTES)
    throw new SecretKeyError(`${name} must be base64 of ${KEK_BYTES} bytes, not ${kek.length} bytes`);
  return kek;
}

/**
 * Reads a key file: a regular file (opened non-blocking, so a FIFO cannot hang the boot), no group or other
 * permission bits, exactly 32 bytes. Returns null if it does not exist.
 */
export function readKekFile(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new SecretKeyError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SecretKeyError(`${path} is not a regular file`);
    const mode = st.mode & 0o777;
    if (mode & 0o077)
      throw new SecretKeyError(
        `${path} is readable or writable by group or others (mode ${mode.toString(8).padStart(4, "0")}): ` +
          `run chmod 600 ${path}`,
      );
    if (st.size !== KEK_BYTES)
      throw new SecretKeyError(`${path} must hold exactly ${KEK_BYTES} bytes, it holds ${st.size}: not a key file`);
    const kek = Buffer.alloc(KEK_BYTES);
    let got = 0;
    while (got < KEK_BYTES) {
      const n = readSync(fd, kek, got, KEK_BYTES - got, got);
      if (n === 0) break;
      got += n;
    }
    if (got !== KEK_BYTES) throw new SecretKeyError(`${path} changed while it was read`);
    return kek;
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A complete, synced 0600 temp file beside `path`; the caller links or renames it into place. */
function writeTemp(path: string, kek: Buffer): string {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, kek);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/** Writes the key only if `path` does not exist (link() never replaces): false if it existed. Atomic. */
export function createKekFile(path: string, kek: Buffer): boolean {
  const tmp = writeTemp(path, kek);
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  fsyncDir(dirname(path));
  return true;
}

/** Writes the key to `path`, replacing what is there in one rename: a reader sees the old or the new key. */
export function replaceKekFile(path: string, kek: Buffer): void {
  const tmp = writeTemp(path, kek);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dirname(path));
}

/** Renames `from` over `to` and syncs the directory. */
export function moveKekFile(from: string, to: string): void {
  renameSync(from, to);
  fsyncDir(dirname(to));
}

export function removeKekFile(path: string): void {
  rmSync(path, { force: true });
  fsyncDir(dirname(path));
}

export type KeySource = { kind: "env" } | { kind: "file"; path: string; created: boolean; pending: string | null };

/**
 * The keyring the server runs with. From `envKey` (BLOCKFERRY_SECRET_KEY, already decoded) if given, else from
 * `<dataDir>/secret.key`, created on first run. A `secret.key.new` left by an interrupted rotation is loaded
 * too, as an older key: the database may already be sealed under it.
 */
export function openKeyring(opts: { dataDir: string; envKey?: Buffer | null }): {
  keyring: Keyring;
  source: KeySource;
} {
  if (opts.envKey) return { keyring: createKeyring(opts.envKey), source: { kind: "env" } };
  const path = join(opts.dataDir, SECRET_KEY_FILE);
  let kek = readKekFile(path);
  let created = false;
  if (!kek) {
    created = createKekFile(path, generateKek());
    kek = readKekFile(path);
    if (!kek) throw new SecretKeyError(`${path} vanished right after it was created`);
  }
  const pendingPath = join(opts.dataDir, PENDING_KEY_FILE);
  const pending = readKekFile(pendingPath);
  return {
    keyring: createKeyring(kek, pending ? [pending] : []),
    source: { kind: "file", path, created, pending: pending ? pendingPath : null },
  };
}

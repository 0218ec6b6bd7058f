// Reading an SSH private key named by `privateKeyPath`: only a regular file, only under the key directory,
// never more than a key's worth of bytes, and never in a way that can block the event loop (a FIFO, a device).
import { constants } from "node:fs";
import { lstat, open, realpath } from "node:fs/promises";
import { dirname, isAbsolute, resolve, sep } from "node:path";
import { InvalidInputError } from "../../errors.ts";

/** An OpenSSH RSA-16384 key is about 12 KiB; nothing legitimate comes near this. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

const inside = (dir: string, path: string) => path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/**
 * The text of the key file at `path` (relative paths are taken from `keyDir`). Outside the key directory,
 * missing outside it, a symlink escaping it, or not a regular file all give the SAME message, so the API cannot
 * be used to learn what exists elsewhere on the server. Inside the directory, "not found" is said plainly.
 */
export async function readKeyFile(path: string, keyDir: string): Promise<string> {
  const refused = () => new InvalidInputError(`privateKeyPath must name a regular file under ${keyDir}`);
  let dir: string;
  try {
    dir = await realpath(keyDir);
  } catch {
    throw refused();
  }
  const wanted = isAbsolute(path) ? path : resolve(keyDir, path);
  let real: string;
  try {
    real = await realpath(wanted);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw refused();
    // Missing: say so only if the folder it would be in is (really) inside the key directory.
    const parent = await realpath(dirname(wanted)).catch(() => null);
    if (parent !== null && (parent === dir || inside(dir, parent)))
      throw new InvalidInputError(`key file ${wanted} not found`);
    throw refused();
  }
  if (!inside(dir, real)) throw refused();
  // A cheap look first so a device or socket is never even opened; fstat after open is the real check.
  const first = await lstat(real).catch(() => null);
  if (!first?.isFile()) throw refused();
  const file = await open(
    real,
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
  ).catch(() => {
    throw refused();
  });
  try {
    const st = await file.stat();
    if (!st.isFile()) throw refused();
    if (st.size > MAX_KEY_FILE_BYTES)
      throw new InvalidInputError(`key file ${real} is larger than ${MAX_KEY_FILE_BYTES} bytes: not a private key`);
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await file.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > MAX_KEY_FILE_BYTES)
        throw new InvalidInputError(`key file ${real} is larger than ${MAX_KEY_FILE_BYTES} bytes: not a private key`);
    }
    return buf.subarray(0, got).toString("utf8");
  } finally {
    await file.close();
  }
}

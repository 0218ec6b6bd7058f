import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { run } from "./run.ts";

/** Creates an ed25519 key pair at `path` (+ `.pub`) unless one is there; `replace` makes a new one. */
export async function ensureKey(path: string, comment: string, replace = false): Promise<void> {
  if (replace) {
    await rm(path, { force: true });
    await rm(`${path}.pub`, { force: true });
  }
  if (existsSync(path)) return;
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
}

/** "ssh-ed25519 AAAA..." without the comment. */
export async function readPublicKey(path: string): Promise<string> {
  const [type, blob] = (await readFile(path, "utf8")).trim().split(/\s+/);
  if (!type || !blob) throw new Error(`${path} is not an OpenSSH public key`);
  return `${type} ${blob}`;
}

/** The fingerprint as OpenSSH prints it: "SHA256:" and unpadded base64 of the key blob's digest. */
export function fingerprintSha256(publicKey: string): string {
  const blob = publicKey.trim().split(/\s+/)[1];
  if (!blob) throw new Error("not an OpenSSH public key");
  const digest = createHash("sha256").update(Buffer.from(blob, "base64")).digest("base64");
  return `SHA256:${digest.replace(/=+$/, "")}`;
}

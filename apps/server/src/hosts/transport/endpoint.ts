import { createRequire } from "node:module";

/** Everything needed to reach one host. `privateKey` never appears in any log line or error message. */
export type HostEndpoint = {
  host: string;
  port: number;
  username: string;
  privateKey: string | Buffer;
  passphrase?: string;
  /** The pinned host key, `SHA256:<base64 without padding>` as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint: string;
};

export function describeEndpoint(e: Pick<HostEndpoint, "host" | "port"> & { username?: string }): string {
  return `${e.username ? `${e.username}@` : ""}${e.host}:${e.port}`;
}

/**
 * Algorithm preferences. AES-GCM first: with AES-NI and ssh2's native binding it is the fastest cipher.
 * The host key order is fixed so that a probe and a real connection negotiate the SAME key type, and hence
 * the same fingerprint.
 */
export const SSH_ALGORITHMS = {
  cipher: [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
  ],
  serverHostKey: [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
  ],
} as const;

/**
 * Whether ssh2's optional native crypto binding loaded (ssh2/lib/protocol/crypto.js `bindingAvailable`).
 * Without it AES-GCM and chacha20 run through slower paths; the server reports this at startup.
 */
export function sshCryptoBindingAvailable(): boolean {
  const require = createRequire(import.meta.url);
  const crypto = require("ssh2/lib/protocol/crypto.js") as { bindingAvailable?: boolean };
  return crypto.bindingAvailable === true;
}

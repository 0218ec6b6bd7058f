import { createHash } from "node:crypto";
import { Client } from "ssh2";
import { describeEndpoint, SSH_ALGORITHMS } from "./endpoint.ts";
import { HostUnreachableError } from "./errors.ts";

/** `SHA256:<base64 without padding>` of the raw host key blob, exactly as OpenSSH prints it. */
export function fingerprintOf(hostKey: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(hostKey).digest("base64").replace(/=+$/, "")}`;
}

/** The fingerprint of an OpenSSH public key line (`TYPE BASE64 [comment]`), as `fingerprintOf` gives it. */
export function fingerprintOfKeyLine(line: string): string {
  return fingerprintOf(Buffer.from(line.split(" ")[1] ?? "", "base64"));
}

/** The key type named at the start of an SSH public key blob (`ssh-ed25519`, ...). */
export function keyTypeOf(hostKey: Uint8Array): string {
  const buf = Buffer.from(hostKey);
  if (buf.length < 4) return "unknown";
  const len = buf.readUInt32BE(0);
  return len > 0 && len < 64 && buf.length >= 4 + len ? buf.subarray(4, 4 + len).toString("ascii") : "unknown";
}

export type ProbedHostKey = { fingerprint: string; keyType: string };

/**
 * Connect only far enough to see the host key, then refuse it: no authentication is attempted, so nothing
 * is sent that an impostor could use. For the "operator confirms the fingerprint" step.
 */
export function probeHostKey(endpoint: { host: string; port: number; timeoutMs?: number }): Promise<ProbedHostKey> {
  const where = describeEndpoint(endpoint);
  return new Promise((resolve, reject) => {
    const client = new Client();
    let seen: ProbedHostKey | undefined;
    const finish = () => {
      client.removeAllListeners();
      client.on("error", () => {});
      client.end();
    };
    client.on("error", (err: Error & { level?: string }) => {
      finish();
      if (seen) resolve(seen);
      else reject(new HostUnreachableError(where, err.message));
    });
    client.on("ready", () => {
      // Cannot happen (we refuse every key), but never leave a session open.
      finish();
      reject(new HostUnreachableError(where, "unexpected authentication without a verified key"));
    });
    client.connect({
      host: endpoint.host,
      port: endpoint.port,
      username: "blockferry-probe",
      readyTimeout: endpoint.timeoutMs ?? 10_000,
      algorithms: { cipher: [...SSH_ALGORITHMS.cipher], serverHostKey: [...SSH_ALGORITHMS.serverHostKey] },
      hostVerifier: (key: Buffer) => {
        seen = { fingerprint: fingerprintOf(key), keyType: keyTypeOf(key) };
        return false;
      },
    });
  });
}

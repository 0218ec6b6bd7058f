// Test stand-in for the hosts layer: one ssh2 connection with a pinned host key, implementing TransferHost.
// Cancel kills the remote process group (the session shell is a session leader: sshd calls setsid()).
import { createHash } from "node:crypto";
import { connect as netConnect } from "node:net";
import { PassThrough } from "node:stream";
import { shQuote } from "@blockferry/lvm";
import { Client } from "ssh2";
import type { RemoteProcess, TransferHost } from "../../../src/transfer/host.ts";
import type { LoopbackSshd } from "./loopback-sshd.ts";

export interface TestHost extends TransferHost {
  client: Client;
  close(): void;
  run(command: string): Promise<string>;
}

export async function connectTestHost(sshd: LoopbackSshd, name = "loopback"): Promise<TestHost> {
  const sock = netConnect(sshd.port, "127.0.0.1");
  sock.setNoDelay(true);
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once("ready", resolve).once("error", reject);
    client.connect({
      sock,
      username: "root",
      privateKey: sshd.privateKey,
      algorithms: { cipher: ["aes128-gcm@openssh.com"] },
      hostVerifier: (key: Buffer) =>
        `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}` === sshd.hostKeyFingerprint,
    });
  });
  client.on("error", () => undefined); // surfaced through the channels that fail

  function execStream(command: string, options: { signal?: AbortSignal } = {}): RemoteProcess {
    const wrapped = `echo "bf-pid $$" >&2; exec sh -c ${shQuote(command)}`;
    const stdout = new PassThrough({ highWaterMark: 1 << 20 });
    const stdin = new PassThrough({ highWaterMark: 1 << 20 });
    let pid: number | undefined;
    const done = new Promise<{ stderr: string }>((resolve, reject) => {
      if (options.signal?.aborted) return reject(options.signal.reason);
      client.exec(wrapped, (err, channel) => {
        if (err) return reject(err);
        let stderr = "";
        let code: number | null = null;
        let sig: string | undefined;
        channel.stderr.on("data", (d: Buffer) => {
          stderr += d.toString();
          if (pid === undefined) {
            const m = /^bf-pid (\d+)\n/.exec(stderr);
            if (m) {
              pid = Number(m[1]);
              stderr = stderr.slice(m[0].length);
            }
          }
          if (stderr.length > 65536) stderr = stderr.slice(-32768);
        });
        channel.pipe(stdout);
        stdin.pipe(channel);
        const onAbort = () => {
          if (pid !== undefined) void run(`kill -KILL -- -${pid} 2>/dev/null; true`).catch(() => undefined);
          channel.close();
        };
        options.signal?.addEventListener("abort", onAbort, { once: true });
        channel.on("exit", (c: number | null, s?: string) => {
          code = c;
          sig = s;
        });
        channel.on("close", () => {
          options.signal?.removeEventListener("abort", onAbort);
          if (options.signal?.aborted) return reject(options.signal.reason);
          if (code === 0) resolve({ stderr });
          else
            reject(
              new Error(
                `${name}: \`${command.slice(0, 200)}\` ${sig ? `killed by ${sig}` : `exited ${code}`}: ${stderr.slice(-1000).trim()}`,
              ),
            );
        });
      });
    });
    done.catch(() => undefined);
    return { stdout, stdin, done };
  }

  async function run(command: string): Promise<string> {
    const p = execStream(command);
    p.stdin.end();
    const chunks: Buffer[] = [];
    p.stdout.on("data", (d: Buffer) => chunks.push(d));
    await p.done;
    return Buffer.concat(chunks).toString();
  }

  return { name, client, execStream, run, close: () => client.end() };
}

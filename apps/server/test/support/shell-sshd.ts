// An SSH server in this process (ssh2's Server) that runs each exec request under the local /bin/sh, for tests on
// machines without OpenSSH's sshd: real SSH, real host key pinning, real commands, a PATH the test chooses.
import { spawn } from "node:child_process";
import type { Server as NetServer, Socket } from "node:net";
import ssh2 from "ssh2";
import { fingerprintOf } from "../../src/hosts/transport/host-key.ts";

export interface ShellSshd {
  host: "127.0.0.1";
  port: number;
  username: "root";
  privateKey: string;
  hostKeyFingerprint: string;
  /** Stop listening and drop every connection (a host that went away); the port is closed afterwards. */
  stop(): Promise<void>;
}

export async function startShellSshd(opts: { path: string }): Promise<ShellSshd> {
  const hostKey = ssh2.utils.generateKeyPairSync("ed25519");
  const clientKey = ssh2.utils.generateKeyPairSync("ed25519");
  const allowed = ssh2.utils.parseKey(clientKey.public);
  if (allowed instanceof Error) throw allowed;
  const parsedHost = ssh2.utils.parseKey(hostKey.public);
  if (parsedHost instanceof Error) throw parsedHost;

  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on("error", () => {});
    client.on("authentication", (ctx) => {
      if (ctx.method !== "publickey" || ctx.key.algo !== allowed.type) return ctx.reject(["publickey"]);
      if (!Buffer.from(ctx.key.data).equals(allowed.getPublicSSH())) return ctx.reject(["publickey"]);
      if (ctx.signature && ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true)
        return ctx.reject(["publickey"]);
      ctx.accept();
    });
    client.on("ready", () => {
      client.on("session", (accept) => {
        const session = accept();
        session.on("exec", (acceptExec, _reject, info) => {
          const ch = acceptExec();
          // detached: the shell leads its own process group, as under sshd (the remote layer kills by group).
          const child = spawn("/bin/sh", ["-c", info.command], {
            detached: true,
            env: { PATH: opts.path, HOME: "/tmp" },
            stdio: ["pipe", "pipe", "pipe"],
          });
          child.stdout.pipe(ch, { end: false });
          child.stderr.pipe(ch.stderr, { end: false });
          ch.pipe(child.stdin).on("error", () => {});
          child.on("close", (code, signal) => {
            if (code !== null) ch.exit(code);
            else ch.exit(signal ?? "KILL", false, "");
            ch.end();
          });
        });
      });
    });
  });
  const sockets = new Set<Socket>();
  const net = (server as unknown as { _srv: NetServer })._srv;
  net.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    host: "127.0.0.1",
    port,
    username: "root",
    privateKey: clientKey.private,
    hostKeyFingerprint: fingerprintOf(parsedHost.getPublicSSH()),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

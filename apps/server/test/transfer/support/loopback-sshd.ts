// Stand-in until apps/server/src/hosts/test-support/loopback-sshd.ts lands: a real OpenSSH sshd on
// 127.0.0.1 with throwaway keys, the pinned host key fingerprint, and a way to kill live sessions.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoopbackSshd {
  port: number;
  dir: string;
  privateKey: Buffer;
  privateKeyPath: string;
  /** `SHA256:<base64>` of the host key, as OpenSSH prints it. */
  hostKeyFingerprint: string;
  knownHostsPath: string;
  /** Kill every per-connection sshd process (drops all sessions) while the listener keeps running. */
  dropSessions(): void;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function fingerprint(pubLine: string): string {
  const blob = Buffer.from(pubLine.trim().split(/\s+/)[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

export async function startLoopbackSshd(): Promise<LoopbackSshd> {
  const dir = mkdtempSync(join(tmpdir(), "bf-sshd-"));
  const hostKey = join(dir, "host_ed25519");
  const userKey = join(dir, "user_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", userKey]);
  const authorized = join(dir, "authorized_keys");
  writeFileSync(authorized, readFileSync(`${userKey}.pub`), { mode: 0o600 });
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "MaxSessions 64",
      "MaxStartups 64",
      "Subsystem sftp internal-sftp",
      "LogLevel ERROR",
    ].join("\n"),
  );
  mkdirSync("/run/sshd", { recursive: true });
  const pubLine = readFileSync(`${hostKey}.pub`, "utf8");
  const knownHostsPath = join(dir, "known_hosts");
  writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${pubLine}`);
  const child: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  // Wait until it accepts connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("data", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`sshd did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const dropSessions = () => {
    let out = "";
    try {
      out = execFileSync("ps", ["-o", "pid=", "--ppid", String(child.pid)], { encoding: "utf8" }).trim();
    } catch {
      return; // ps exits 1 when there are no sessions
    }
    for (const pid of out.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  };
  return {
    port,
    dir,
    privateKey: readFileSync(userKey),
    privateKeyPath: userKey,
    hostKeyFingerprint: fingerprint(pubLine),
    knownHostsPath,
    dropSessions,
    async stop() {
      dropSessions();
      child.kill("SIGTERM");
      if (child.exitCode === null) await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

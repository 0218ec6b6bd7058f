// A real OpenSSH sshd on 127.0.0.1 for tests: temp host key, temp authorized_keys, internal-sftp.
// It can be restarted with a NEW host key and killed mid-command (daemon and its per-connection children).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type LoopbackSshd = {
  host: "127.0.0.1";
  port: number;
  username: "root";
  /** OpenSSH-format ed25519 private key for the authorized client. */
  privateKey: string;
  /** As printed by `ssh-keygen -lf <host key>`: `SHA256:...`. */
  hostKeyFingerprint: string;
  hostKeyPath: string;
  dir: string;
  /** sshd's stderr so far (for failing tests). */
  log(): string;
  /** Stop and start again on the same port; `newHostKey` generates a different host key first. */
  restart(opts?: { newHostKey?: boolean }): Promise<void>;
  /** SIGKILL the daemon and every sshd process under it: connections drop at once, like a crashed host. */
  kill(): void;
  /** Start again after kill() on the same port with the same key. */
  start(): Promise<void>;
  stop(): Promise<void>;
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function keygen(path: string): void {
  rmSync(path, { force: true });
  rmSync(`${path}.pub`, { force: true });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bf-test", "-f", path]);
}

function fingerprint(path: string): string {
  // `256 SHA256:xxxx comment (ED25519)`
  const out = execFileSync("ssh-keygen", ["-lf", path], { encoding: "utf8" });
  const fp = out.split(" ")[1];
  if (!fp?.startsWith("SHA256:")) throw new Error(`unexpected ssh-keygen -lf output: ${out}`);
  return fp;
}

async function waitForBanner(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: "127.0.0.1", port });
      s.setTimeout(500);
      s.once("data", (d) => {
        s.destroy();
        resolve(d.toString().startsWith("SSH-"));
      });
      s.once("error", () => resolve(false));
      s.once("timeout", () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd on 127.0.0.1:${port} did not answer within ${timeoutMs} ms`);
}

/** PIDs of every descendant of `pid` (from /proc). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // process exited while we looked
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift() as number;
    for (const [child, pp] of parent)
      if (pp === p) {
        out.push(child);
        queue.push(child);
      }
  }
  return out;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

export type LoopbackSshdOptions = {
  /** PATH for every session (sshd `SetEnv`), e.g. to put stand-in tools first. */
  path?: string;
  /** Serve this existing private host key (e.g. the machine's own) instead of a fresh one. */
  hostKey?: string;
};

export async function startLoopbackSshd(options: LoopbackSshdOptions = {}): Promise<LoopbackSshd> {
  const dir = mkdtempSync(join(tmpdir(), "bf-sshd-"));
  mkdirSync("/run/sshd", { recursive: true }); // privilege separation directory
  const hostKeyPath = join(dir, "host_ed25519");
  const clientKeyPath = join(dir, "client_ed25519");
  if (options.hostKey) {
    copyFileSync(options.hostKey, hostKeyPath);
    chmodSync(hostKeyPath, 0o600);
  } else keygen(hostKeyPath);
  keygen(clientKeyPath);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${clientKeyPath}.pub`));
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyPath}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "MaxSessions 32",
      "MaxStartups 64",
      "PrintMotd no",
      "LogLevel ERROR",
      "Subsystem sftp internal-sftp",
      // bash sources ~/.bashrc for every sshd command; on dev machines that can be slow and even serialise
      // sessions (pyenv's rehash lock). A HOME of our own keeps the tests about the code, not root's dotfiles.
      `SetEnv HOME=${dir}${options.path ? ` PATH=${options.path}` : ""}`,
      "",
    ].join("\n"),
  );

  let child: ChildProcess | null = null;
  let log = "";
  const start = async () => {
    const c = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    c.stderr?.on("data", (d: Buffer) => {
      log = (log + d.toString()).slice(-20_000);
    });
    child = c;
    await waitForBanner(port, 10_000);
  };
  const kill = () => {
    const c = child;
    if (!c?.pid) return;
    const all = descendants(c.pid);
    for (const pid of [c.pid, ...all.filter((p) => comm(p).startsWith("sshd"))]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    child = null;
  };
  const stop = async () => {
    const c = child;
    if (!c?.pid) return;
    const pid = c.pid;
    const gone = new Promise<void>((resolve) => c.once("exit", () => resolve()));
    // Per-connection sshd processes and whatever our tests left running under them.
    const all = descendants(pid);
    for (const p of [pid, ...all]) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // already gone
      }
    }
    child = null;
    await gone;
  };

  await start();
  const sshd: LoopbackSshd = {
    host: "127.0.0.1",
    port,
    username: "root",
    privateKey: readFileSync(clientKeyPath, "utf8"),
    hostKeyFingerprint: fingerprint(hostKeyPath),
    hostKeyPath,
    dir,
    log: () => log,
    async restart(opts = {}) {
      await stop();
      if (opts.newHostKey) {
        keygen(hostKeyPath);
        sshd.hostKeyFingerprint = fingerprint(hostKeyPath);
      }
      await start();
    },
    kill,
    start,
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return sshd;
}

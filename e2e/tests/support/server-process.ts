import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../lab/paths.ts";
import { adminTokenOffline } from "./auth.ts";

export { freePort } from "../../../test-support/loopback-sshd.ts";

/** `token`: an admin API token for it (the server wants one on every API request). */
export type ServerProcess = ChildProcess & { url: string; token: string };

/**
 * `blockferry serve` as its own process, so a test can kill -9 it like a crash and start it again. It leads a
 * process group of its own: tsx runs the server in a child node process, which a kill of tsx alone would orphan
 * (still listening, still holding job leases).
 * Before it starts, an admin and an API token for it are put in the data dir offline (no server has it open then:
 * a restart kills the old one first); each start mints a new token, the old ones keep working.
 */
export async function spawnServer(dataDir: string, port: number): Promise<ServerProcess> {
  const token = await adminTokenOffline(dataDir);
  const child = spawn(
    join(repoRoot, "node_modules/.bin/tsx"),
    [
      join(repoRoot, "apps/cli/src/main.ts"),
      "serve",
      "--port",
      String(port),
      "--data-dir",
      dataDir,
      "--log-level",
      "warn",
    ],
    { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"], detached: true },
  );
  const server = Object.assign(child, { url: `http://127.0.0.1:${port}`, token });
  try {
    const end = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
      try {
        if ((await fetch(`${server.url}/api/health`)).ok) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > end) throw new Error("server did not start in 30 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await killHard(server);
    throw err;
  }
}

/** Whether a live (not zombie) process of the group is left; a zombie holds no port and no lease. */
function groupAlive(pgid: number): boolean {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after its last ")".
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z") return true;
  }
  return false;
}

/** SIGKILL to the server's whole process group; returns once no process of the group is left. */
export async function killHard(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // the group is gone already
  }
  const end = Date.now() + 10_000;
  while (groupAlive(pgid) || (child.exitCode === null && child.signalCode === null)) {
    if (Date.now() > end) throw new Error(`server process group ${pgid} still alive 10 s after SIGKILL`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

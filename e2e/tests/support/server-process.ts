import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../lab/paths.ts";

export { freePort } from "../../../test-support/loopback-sshd.ts";

/** `blockferry serve` as its own process, so a test can kill -9 it like a crash and start it again. */
export async function spawnServer(dataDir: string, port: number): Promise<ChildProcess & { url: string }> {
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
    { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] },
  );
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/api/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error("server did not start in 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return Object.assign(child, { url });
}

export function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

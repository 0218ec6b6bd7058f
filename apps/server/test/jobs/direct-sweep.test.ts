// The startup sweep of direct-path leftovers, run by a real /bin/sh per "host" (its own HOME, and /run on a
// private tmpfs: the sweep lists and removes every /run/blockferry-* it finds, and must not see other tests').
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host } from "@blockferry/contracts";
import { afterAll, describe, expect, it } from "vitest";
import { sweepDirectAccess } from "../../src/jobs/reconcile.ts";

const dir = mkdtempSync(join(tmpdir(), "bf-sweep-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A "host" whose commands run under sh with its own HOME; `/run/blockferry-N` dirs made in a private /run. */
function shellHost(name: string, runDirs: number[]) {
  const home = join(dir, name);
  mkdirSync(join(home, ".ssh"), { recursive: true });
  const mkdirs = runDirs.map((id) => `mkdir /run/blockferry-${id}; `).join("");
  return {
    home,
    name,
    run: (command: string) =>
      new Promise<string>((resolve, reject) =>
        execFile(
          "unshare",
          ["-m", "--propagation", "private", "sh", "-c", `mount -t tmpfs none /run; ${mkdirs}${command}`],
          { env: { ...process.env, HOME: home } },
          (error, stdout) => (error ? reject(error) : resolve(stdout)),
        ),
      ),
  };
}

const line = (jobId: number) =>
  `restrict,command="true" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI blockferry-migration-${jobId}`;

describe("startup sweep of direct-path access", () => {
  it("removes every grant on the hosts that answer, audited; a silent host is logged and does not hold it up", async () => {
    const a = shellHost("a", []);
    writeFileSync(join(a.home, ".ssh/authorized_keys"), `ssh-ed25519 AAAA operator\n${line(7)}\n${line(71)}\n`);
    const b = shellHost("b", [7]);
    const silent = { name: "c", run: () => new Promise<string>(() => undefined) };
    const shells = new Map<number, { name: string; run(command: string): Promise<string> }>([
      [1, a],
      [2, b],
      [3, silent],
      [4, a],
    ]);
    const hosts = [1, 2, 3, 4].map((id) => ({ id, name: `h${id}`, status: id === 4 ? "pending" : "trusted" }));
    const audited: string[] = [];
    const warned: string[] = [];
    const t0 = performance.now();
    const swept = await sweepDirectAccess(
      {
        registry: { list: () => hosts as Host[] },
        shellFor: (id) => shells.get(id) as { name: string; run(command: string): Promise<string> },
        audit: { record: (_actor, action, subject) => void audited.push(`${action} ${subject}`) },
        logger: { warn: (_obj, msg) => void warned.push(msg) },
      },
      1500,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(swept).toBe(3);
    expect(readFileSync(join(a.home, ".ssh/authorized_keys"), "utf8")).toBe("ssh-ed25519 AAAA operator\n");
    expect(audited.sort()).toEqual([
      "migration.direct_access_sweep job:7",
      "migration.direct_access_sweep job:7",
      "migration.direct_access_sweep job:71",
    ]);
    expect(warned).toEqual(["could not sweep direct-path leftovers on h3"]);
  });
});

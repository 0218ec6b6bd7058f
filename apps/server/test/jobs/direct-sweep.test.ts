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
function shellHost(name: string, runDirs: readonly (number | string)[]) {
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

  it("removes only this instance's grants and the legacy ones: another server's on the same hosts stay", async () => {
    const own = "0a1b2c3d";
    // Source directories of both instances (one starting with a digit, as the legacy glob matches), and legacy.
    const r = await sweepOwn(
      "instances",
      own,
      [`${own}-5`, "1234abcd-5", "12345678-6", "9"],
      [`${own}-5`, `${own}-8`, "1234abcd-5", "12345678-6", "9"],
    );
    expect(r.listed).toEqual([`${own}-5`, `${own}-8`, "9"]);
    expect(r.swept).toBe(3);
    expect(r.audited).toEqual([5, 8, 9].map((job) => `migration.direct_access_sweep job:${job}`));
    for (const command of r.removals) expect(command).not.toMatch(/1234abcd|12345678/);
    expect(r.keys).toBe(`ssh-ed25519 AAAA operator\n${r.lines[1]}\n${r.lines[2]}\n`);
  });

  it("removes a set's disks' grants (-dN) as the job's, and another server's disk grants stay", async () => {
    const own = "0a1b2c3d";
    const r = await sweepOwn(
      "disks",
      own,
      [`${own}-5`, `${own}-5-d1`, "1234abcd-5-d1"],
      [`${own}-5-d1`, "9-d2", "1234abcd-5-d1", `${own}-7-dx`],
    );
    // A tag whose disk is not digits (`-dx`) is nobody's: listed never, so never removed.
    expect(r.listed).toEqual([`${own}-5`, `${own}-5-d1`, "9-d2"]);
    expect(r.swept).toBe(2);
    expect(r.audited).toEqual([5, 5, 9].map((job) => `migration.direct_access_sweep job:${job}`));
    for (const command of r.removals) expect(command).not.toMatch(/1234abcd|-7-dx/);
    expect(r.keys).toBe(`ssh-ed25519 AAAA operator\n${r.lines[2]}\n`);
  });
});

/**
 * Sweeps one trusted host as server instance `own`: its authorized_keys holds the operator's key and a line per
 * `keyTags` tag, its /run a `blockferry-<dir>` per `dirs`. What the listing found, the commands after it, what
 * was audited, and the keys file afterwards.
 */
async function sweepOwn(name: string, own: string, keyTags: readonly string[], dirs: readonly string[]) {
  const lines = keyTags.map(
    (tag) => `restrict,command="true" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI blockferry-migration-${tag}`,
  );
  const host = shellHost(name, dirs);
  writeFileSync(join(host.home, ".ssh/authorized_keys"), `ssh-ed25519 AAAA operator\n${lines.join("\n")}\n`);
  const ran: Array<{ command: string; stdout: string }> = [];
  const shell = {
    name: host.name,
    run: async (command: string) => {
      const stdout = await host.run(command);
      ran.push({ command, stdout });
      return stdout;
    },
  };
  const audited: string[] = [];
  const swept = await sweepDirectAccess({
    registry: { list: () => [{ id: 1, name: "h1", status: "trusted" }] as Host[] },
    shellFor: () => shell,
    audit: { record: (_actor, action, subject) => void audited.push(`${action} ${subject}`) },
    logger: { warn: () => undefined },
    instance: own,
  });
  return {
    lines,
    swept,
    listed: (ran[0]?.stdout ?? "").split("\n").filter(Boolean).sort(),
    removals: ran.slice(1).map((r) => r.command),
    audited: audited.sort(),
    keys: readFileSync(join(host.home, ".ssh/authorized_keys"), "utf8"),
  };
}

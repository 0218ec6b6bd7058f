import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  authorizedKeyLine,
  DIRECT_CIPHERS,
  directReceiveCommand,
  directSendCommand,
  directSshCommand,
  installAuthorizedKeyCommand,
  knownHostsLine,
  leftoverMigrationsCommand,
  migrationDir,
  removeAuthorizedKeyCommand,
  removeSourceAccessCommand,
  removeTargetAccessCommand,
  trackedReceiveCommand,
  validateMigrationHost,
  writeSourceAccessCommand,
} from "../src/direct-commands.ts";
import { InvalidValueError } from "../src/errors.ts";
import { receiveRecordsCommand } from "../src/transfer-commands.ts";

const home = mkdtempSync(join(tmpdir(), "bf-direct-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const sh = (cmd: string, input?: string) =>
  spawnSync("/bin/sh", ["-c", cmd], { input, env: { ...process.env, HOME: home }, encoding: "utf8" });
const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGn5+BHOwtA0GC8iem7TfXOpxQ32nMSobUD4XBVOVWPj";
const keysFile = join(home, ".ssh/authorized_keys");
/** Polls until `probe` holds (state, not a fixed sleep). */
async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("direct access templates under a real /bin/sh", () => {
  it("install replaces the job's own line, keeps every other, and removal drops only that job's", () => {
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(keysFile, `${key} operator\n`);
    const line = (jobId: number) => authorizedKeyLine({ jobId, publicKey: key, forcedCommand: 'echo "hi"' });
    for (const jobId of [7, 71, 7]) {
      expect(sh(installAuthorizedKeyCommand({ jobId }), `${line(jobId)}\n`).status).toBe(0);
    }
    expect(readFileSync(keysFile, "utf8")).toBe(`${key} operator\n${line(71)}\n${line(7)}\n`);
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    expect(sh(removeAuthorizedKeyCommand({ jobId: 7 })).status).toBe(0);
    expect(sh(removeAuthorizedKeyCommand({ jobId: 7 })).status).toBe(0); // idempotent
    expect(readFileSync(keysFile, "utf8")).toBe(`${key} operator\n${line(71)}\n`);
    expect(sh(removeAuthorizedKeyCommand({ jobId: 71 })).status).toBe(0);
    expect(readFileSync(keysFile, "utf8")).toBe(`${key} operator\n`);
  });

  it("a server instance names its own lines and directories: job 7 of one instance is not job 7 of another", () => {
    writeFileSync(keysFile, `${key} operator\n`);
    const line = (jobId: number, instance?: string) =>
      authorizedKeyLine({ jobId, instance, publicKey: key, forcedCommand: "true" });
    const mine = "0a1b2c3d";
    const theirs = "1234abcd";
    for (const instance of [mine, theirs, undefined])
      expect(sh(installAuthorizedKeyCommand({ jobId: 7, instance }), `${line(7, instance)}\n`).status).toBe(0);
    expect(line(7, mine)).toMatch(/ blockferry-migration-0a1b2c3d-7$/);
    expect(migrationDir(7, mine)).toBe("/run/blockferry-0a1b2c3d-7");
    expect(migrationDir(7)).toBe("/run/blockferry-7");
    // Another instance's line is not this one's to install.
    expect(sh(installAuthorizedKeyCommand({ jobId: 7, instance: mine }), `${line(7, theirs)}\n`).status).toBe(65);
    // The listing: this instance's and the legacy tags; never another instance's (dirs of other tests may show).
    const listed = sh(leftoverMigrationsCommand({ instance: mine })).stdout.split("\n");
    expect(listed).toEqual(expect.arrayContaining([`${mine}-7`, "7"]));
    expect(listed.some((tag) => tag.includes(theirs))).toBe(false);
    expect(sh(removeAuthorizedKeyCommand({ jobId: 7, instance: mine })).status).toBe(0);
    expect(sh(removeAuthorizedKeyCommand({ jobId: 7 })).status).toBe(0);
    expect(readFileSync(keysFile, "utf8")).toBe(`${key} operator\n${line(7, theirs)}\n`);
    expect(writeSourceAccessCommand({ jobId: 7, instance: mine, knownHosts: "h k" })).toContain(
      "'/run/blockferry-0a1b2c3d-7'",
    );
    expect(removeSourceAccessCommand({ jobId: 7, instance: mine })).toBe("rm -rf '/run/blockferry-0a1b2c3d-7'");
    for (const bad of ["0A1B2C3D", "0a1b2c3", "0a1b2c3d;", "../x"])
      expect(() => migrationDir(7, bad)).toThrow(InvalidValueError);
    sh(removeAuthorizedKeyCommand({ jobId: 7, instance: theirs }));
  });

  it("each disk of a set has names of its own: disk 1's line, directory and receive side are not disk 0's", () => {
    writeFileSync(keysFile, `${key} operator\n`);
    const mine = "0a1b2c3d";
    const line = (disk?: number) =>
      authorizedKeyLine({ jobId: 7, instance: mine, disk, publicKey: key, forcedCommand: "true" });
    expect(line(0)).toBe(line());
    expect(line(1)).toMatch(/ blockferry-migration-0a1b2c3d-7-d1$/);
    expect(migrationDir(7, mine, 1)).toBe("/run/blockferry-0a1b2c3d-7-d1");
    expect(migrationDir(7, undefined, 12)).toBe("/run/blockferry-7-d12");
    for (const disk of [-1, 1.5, 4096]) expect(() => migrationDir(7, mine, disk)).toThrow(InvalidValueError);
    for (const disk of [0, 1, 2])
      expect(sh(installAuthorizedKeyCommand({ jobId: 7, instance: mine, disk }), `${line(disk)}\n`).status).toBe(0);
    // Disk 1's install refuses disk 0's line and the reverse: the markers are anchored.
    expect(sh(installAuthorizedKeyCommand({ jobId: 7, instance: mine, disk: 1 }), `${line(0)}\n`).status).toBe(65);
    expect(sh(installAuthorizedKeyCommand({ jobId: 7, instance: mine }), `${line(1)}\n`).status).toBe(65);
    const listed = sh(leftoverMigrationsCommand({ instance: mine })).stdout.split("\n");
    expect(listed).toEqual(expect.arrayContaining([`${mine}-7`, `${mine}-7-d1`, `${mine}-7-d2`]));
    expect(sh(removeAuthorizedKeyCommand({ jobId: 7, instance: mine, disk: 1 })).status).toBe(0);
    expect(readFileSync(keysFile, "utf8")).toBe(`${key} operator\n${line(0)}\n${line(2)}\n`);
    expect(trackedReceiveCommand({ jobId: 7, instance: mine, disk: 1, receive: "true" })).toContain(
      ": blockferry-receive-0a1b2c3d-7-d1;",
    );
    for (const disk of [0, 2]) sh(removeAuthorizedKeyCommand({ jobId: 7, instance: mine, disk }));
    expect(readFileSync(keysFile, "utf8")).toBe(`${key} operator\n`);
  });

  it("install refuses a line that is not this job's", () => {
    const other = authorizedKeyLine({ jobId: 8, publicKey: key, forcedCommand: "true" });
    const r = sh(installAuthorizedKeyCommand({ jobId: 9 }), `${other}\n`);
    expect(r.status).toBe(65);
    expect(readFileSync(keysFile, "utf8")).not.toContain("migration-8");
  });

  it("the receive side is one line, so it can be a forced command", () => {
    const command = receiveRecordsCommand({ device: "/dev/vg0/vm1" });
    expect(command).not.toContain("\n");
    const line = authorizedKeyLine({ jobId: 3, publicKey: key, forcedCommand: command, from: "10.77.0.1" });
    expect(line).toMatch(/^restrict,command="[^\n]*",from="10\.77\.0\.1" ssh-ed25519 \S+ blockferry-migration-3$/);
    // The option syntax's only escape: every quote of the command becomes \" and nothing else does.
    const quoted = /command="((?:[^"\\]|\\")*)"/.exec(line)?.[1];
    expect(quoted?.replaceAll('\\"', '"')).toBe(command);
  });

  it("revoking on the target kills the job's receive sides (whole process group) and nothing else", async () => {
    const instance = "0d2a0d2a";
    const device = join(home, "receive.img");
    writeFileSync(device, Buffer.alloc(4 << 20));
    // As sshd runs a forced command: in a session of its own. A record of 1 MiB of which 3 bytes arrive keeps
    // the receive side's dd (a child in its group) waiting on stdin, as after a cut link.
    const receiving = (jobId: number) => {
      const p = spawn(
        "setsid",
        ["/bin/sh", "-c", trackedReceiveCommand({ jobId, instance, receive: receiveRecordsCommand({ device }) })],
        {
          stdio: ["pipe", "ignore", "ignore"],
        },
      );
      p.stdin.write("d 0 1048576\nabc");
      const exited = new Promise<NodeJS.Signals | null>((resolve) => p.on("exit", (_code, signal) => resolve(signal)));
      return { p, exited };
    };
    const mine = receiving(7);
    const other = receiving(71);
    const dir = migrationDir(7, instance);
    const pidFile = () => spawnSync("sh", ["-c", `ls ${dir}/r.* 2>/dev/null`], { encoding: "utf8" }).stdout.trim();
    /** Live (not zombie) processes of a process group. */
    const groupSize = (pgid: number) =>
      spawnSync("ps", ["-e", "-o", "pgid=,stat="], { encoding: "utf8" })
        .stdout.split("\n")
        .map((l) => l.trim().split(/\s+/))
        .filter(([g, stat]) => Number(g) === pgid && !stat?.startsWith("Z")).length;
    await until(
      "the receive side to register and start its dd",
      () => pidFile() !== "" && groupSize(mine.p.pid ?? 0) >= 2,
    );
    expect(pidFile()).toBe(`${dir}/r.${mine.p.pid}`);
    // A pid the directory names whose command line is not this job's receive side (a reused pid) is left alone.
    const bystander = spawn("sleep", ["600"]);
    writeFileSync(`${dir}/r.${bystander.pid}`, `${bystander.pid}\n`);
    try {
      expect(sh(removeTargetAccessCommand({ jobId: 7, instance })).status).toBe(0);
      expect(await mine.exited).toBe("SIGKILL");
      // The dd too (a zombie until init reaps it): the whole group, not only the shell.
      await until("the receive side's group to be gone", () => groupSize(mine.p.pid ?? 0) === 0);
      expect(existsSync(dir)).toBe(false);
      expect(bystander.exitCode === null && bystander.signalCode === null).toBe(true);
      expect(groupSize(other.p.pid ?? 0)).toBeGreaterThanOrEqual(2);
      expect(sh(removeTargetAccessCommand({ jobId: 7, instance })).status).toBe(0); // idempotent
    } finally {
      bystander.kill("SIGKILL");
      other.p.stdin.end();
      sh(removeTargetAccessCommand({ jobId: 71, instance }));
    }
    expect(await other.exited).toBe("SIGKILL");
    expect(existsSync(migrationDir(71, instance))).toBe(false);
  });

  it("hostile values never reach a shell", () => {
    for (const host of ["-oProxyCommand=x", "a b", "a;b", "$(id)", "a'b", ""]) {
      expect(() => validateMigrationHost(host)).toThrow(InvalidValueError);
      expect(() => directSshCommand({ jobId: 1, target: { host, port: 22, user: "root" } })).toThrow(InvalidValueError);
    }
    expect(() => directSshCommand({ jobId: 1, target: { host: "h", port: 22, user: "root;id" } })).toThrow();
    expect(() => authorizedKeyLine({ jobId: 1, publicKey: key, forcedCommand: "a\nb" })).toThrow();
    expect(() => authorizedKeyLine({ jobId: 1, publicKey: key, forcedCommand: "a\\b" })).toThrow();
    expect(() => authorizedKeyLine({ jobId: 1, publicKey: `${key}\nssh-rsa AAAA`, forcedCommand: "true" })).toThrow();
    expect(() => knownHostsLine({ host: "h", port: 22, publicKey: "ssh-ed25519 AAAA;id" })).toThrow();
    expect(knownHostsLine({ host: "10.77.0.2", port: 2222, publicKey: `${key} comment` })).toBe(
      `[10.77.0.2]:2222 ${key}`,
    );
    // The ssh command runs under sh with the values as plain words.
    const command = directSshCommand({ jobId: 5, target: { host: "10.77.0.2", port: 22, user: "root" } });
    const words = sh(`set -- ${command.slice(4)}; printf '%s\\n' "$@"`)
      .stdout.trim()
      .split("\n");
    expect(words.at(-1)).toBe("root@10.77.0.2");
    expect(words).toContain("StrictHostKeyChecking=yes");
    expect(words).toContain(`Ciphers=${DIRECT_CIPHERS}`);
    expect(existsSync("/run/blockferry-5")).toBe(false);
  });

  it("the sender finds every zero block and every data block, whatever the layout, and the target proves it", () => {
    // Blocks of 64 KiB. Run 1: zero, a block whose last byte is data, zero, zero, data, five zero. Run 2 (not at
    // a block boundary of the device, partial last block): data, then zero to its end. Run 3: zero, then a
    // partial last block whose last byte is data.
    const K = 1024;
    const blockBytes = 64 * K;
    const src = Buffer.alloc(2048 * K);
    src[128 * K - 1] = 1;
    randomBytes(64 * K).copy(src, 256 * K);
    randomBytes(64 * K).copy(src, 704 * K);
    src[1124 * K - 1] = 7;
    const runs = [
      [0, 640 * K],
      [704 * K, 300 * K],
      [1024 * K, 100 * K],
    ] as const;
    const sent = 64 * K + 64 * K + 64 * K + 36 * K;
    const total = runs.reduce((n, [, l]) => n + l, 0);
    const source = join(home, "scan-src.img");
    writeFileSync(source, src);
    // The target's forced command, run where the source's ssh would reach it.
    const bin = join(home, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "ssh"), '#!/bin/sh\nexec /bin/sh -c "$BF_RECEIVE"\n');
    chmodSync(join(bin, "ssh"), 0o755);
    const jobId = 900_000 + (process.pid % 10_000);
    mkdirSync(migrationDir(jobId), { recursive: true });
    try {
      for (const skipZeroes of [false, true]) {
        const target = join(home, "scan-dst.img");
        writeFileSync(target, Buffer.alloc(src.length, skipZeroes ? 0 : 0x5a));
        const command = directSendCommand({
          jobId,
          device: source,
          runs,
          blockBytes,
          zeroes: true,
          skipZeroes,
          hash: "b2sum",
          sshCommand: "ssh target",
        });
        const r = spawnSync("/bin/sh", ["-c", command], {
          input: "g\n".repeat(64),
          env: {
            ...process.env,
            PATH: `${bin}:${process.env.PATH}`,
            BF_RECEIVE: directReceiveCommand({ jobId, device: target, hash: "b2sum" }),
          },
          encoding: "utf8",
        });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const lines = r.stdout.trim().split("\n");
        const progress = lines.filter((l) => l.startsWith("p "));
        const bytes = (kind: string) =>
          progress.filter((l) => l.startsWith(`p ${kind} `)).reduce((n, l) => n + Number(l.split(" ")[2]), 0);
        expect(bytes("d")).toBe(sent);
        expect(bytes(skipZeroes ? "s" : "z")).toBe(total - sent);
        // The target's read-back hash, then a `z` per zero record (none when skipped), then the source's own.
        const rest = lines.filter((l) => !l.startsWith("p "));
        expect(rest[rest.length - 1]).toBe(`s ${rest[0]}`);
        expect(rest.slice(1, -1).every((l) => l === "z")).toBe(true);
        expect(rest.length > 2).toBe(!skipZeroes);
        const out = readFileSync(target);
        for (const [offset, length] of runs)
          expect(out.subarray(offset, offset + length).equals(src.subarray(offset, offset + length))).toBe(true);
        // Outside the runs: untouched.
        expect(out.subarray(640 * K, 704 * K).every((b) => b === (skipZeroes ? 0 : 0x5a))).toBe(true);
      }
    } finally {
      rmSync(migrationDir(jobId), { recursive: true, force: true });
    }
  });
});

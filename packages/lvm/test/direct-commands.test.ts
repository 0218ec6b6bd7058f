import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  authorizedKeyLine,
  DIRECT_CIPHERS,
  directSshCommand,
  installAuthorizedKeyCommand,
  knownHostsLine,
  leftoverMigrationsCommand,
  migrationDir,
  removeAuthorizedKeyCommand,
  removeSourceAccessCommand,
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
});

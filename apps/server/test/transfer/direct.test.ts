// The direct data plane over a real loopback sshd: the "source" session runs OpenSSH's client into the same
// sshd as the "target", where the migration key's forced command receives. Access is granted and revoked as in
// a migration (the sshd reads the authorized_keys our install edits), so this is the whole path but the lab.

import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { directReceiveCommand } from "@blockferry/lvm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort, type LoopbackSshd, startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import { createTransferJournal } from "../../src/db/repositories/transfer-journal.ts";
import { execOn } from "../../src/hosts/index.ts";
import { type AccessHost, grantMigrationAccess, revokeMigrationAccess } from "../../src/transfer/direct/access.ts";
import { type DirectPath, directBatch } from "../../src/transfer/direct/batch.ts";
import { copyFull, DIRECT_BATCH_BYTES, DIRECT_MAX_BATCH_BYTES, directBatchBytes } from "../../src/transfer/engine.ts";
import { DirectLinkError } from "../../src/transfer/errors.ts";
import { RateLimiter } from "../../src/transfer/rate-limiter.ts";
import { tempDb } from "../support/helpers.ts";
import { insertJob, sha256File } from "./support/fixture.ts";
import { QUIET_SHELL, type TestHost, testHost } from "./support/hosts.ts";

const MiB = 1 << 20;
let sshd: LoopbackSshd;
let host: TestHost;
let dir: string;
const t = tempDb();
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });
const journal = createTransferJournal(t.db);
const audit = { record: () => undefined };

beforeAll(async () => {
  sshd = await startLoopbackSshd(QUIET_SHELL);
  // Sessions run with HOME=sshd.dir: the sshd's own authorized_keys becomes the one our install edits.
  mkdirSync(join(sshd.dir, ".ssh"), { mode: 0o700 });
  renameSync(join(sshd.dir, "authorized_keys"), join(sshd.dir, ".ssh/authorized_keys"));
  symlinkSync(join(sshd.dir, ".ssh/authorized_keys"), join(sshd.dir, "authorized_keys"));
  host = testHost(sshd);
  dir = mkdtempSync(join("/dev/shm", "bf-direct-"));
});
afterAll(async () => {
  await host?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
  t.cleanup();
});

const accessHost = (): AccessHost => ({
  name: "loopback",
  exec: async (command, options = {}) => ({
    stdout: (await execOn(host.conn, command, options)).stdout,
  }),
});

/** Grants access for a job (or its disk) whose forced command is `receive` (default: the receive side for `device`). */
async function grant(
  jobId: number,
  device: string,
  receive = directReceiveCommand({ jobId, device, hash: "b2sum" }),
  disk?: number,
): Promise<DirectPath> {
  const access = await grantMigrationAccess(
    { audit },
    {
      jobId,
      disk,
      source: accessHost(),
      target: accessHost(),
      targetEndpoint: { host: "127.0.0.1", port: sshd.port, user: "root" },
      targetHostKey: readFileSync(`${sshd.hostKeyPath}.pub`, "utf8"),
      sourceHost: "127.0.0.1",
      receiveCommand: receive,
    },
  );
  return { jobId, disk, sshCommand: access.sshCommand, hash: "b2sum" };
}
const revoke = (jobId: number, disk?: number) =>
  revokeMigrationAccess({ audit }, { jobId, disk, source: accessHost(), target: accessHost() }, "test");

const isZombie = (pid: number) => {
  try {
    return /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};
/** Polls until `probe` holds (state, not a fixed sleep). */
async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** 24 MiB: 8 MiB data, 12 MiB zero, 4 MiB data. */
function volume(path: string): Buffer {
  const buf = Buffer.alloc(24 * MiB);
  randomBytes(8 * MiB).copy(buf, 0);
  randomBytes(4 * MiB).copy(buf, 20 * MiB);
  writeFileSync(path, buf);
  return buf;
}

describe("direct copy over a real sshd", () => {
  it("copies host to host, skips zero blocks for a target that reads zeroes, and leaves no key behind", async () => {
    const s = join(dir, "src.img");
    const d = join(dir, "dst.img");
    const data = volume(s);
    writeFileSync(d, Buffer.alloc(data.length));
    const jobId = insertJob(t.db);
    const direct = await grant(jobId, d);
    try {
      const r = await copyFull({
        source: { host, device: s },
        target: { host, device: d },
        journal,
        jobId,
        pass: "full",
        bytes: data.length,
        rangeBytes: 8 * MiB,
        targetReadsZero: true,
        direct,
        bandwidth: new RateLimiter(null),
      });
      expect(sha256File(d)).toBe(sha256File(s));
      expect(r).toMatchObject({ rangesConfirmed: 3, bytesSent: 12 * MiB, bytesSkipped: 12 * MiB, bytesRead: 24 * MiB });
    } finally {
      await revoke(jobId);
    }
    expect(readFileSync(join(sshd.dir, ".ssh/authorized_keys"), "utf8")).not.toContain("blockferry-migration");
    expect(() => readFileSync(`/run/blockferry-${jobId}/id_ed25519`)).toThrow();
  });

  it("a bandwidth limit paces the source", async () => {
    const s = join(dir, "src.img");
    const d = join(dir, "dst-slow.img");
    writeFileSync(d, Buffer.alloc(24 * MiB, 0x5a));
    const jobId = insertJob(t.db);
    const direct = await grant(jobId, d);
    try {
      const r = await copyFull({
        source: { host, device: s },
        target: { host, device: d },
        journal,
        jobId,
        pass: "full",
        bytes: 24 * MiB,
        direct,
        bandwidth: new RateLimiter(8 * MiB),
      });
      expect(sha256File(d)).toBe(sha256File(s));
      // 12 MiB of data at 8 MiB/s (a quarter second of credit up front): at least a second.
      expect(r.seconds).toBeGreaterThan(1);
    } finally {
      await revoke(jobId);
    }
  });

  it("a target that stops reading early never confirms anything", async () => {
    const s = join(dir, "src.img");
    const d = join(dir, "dst-short.img");
    writeFileSync(d, Buffer.alloc(24 * MiB, 0x5a));
    const jobId = insertJob(t.db);
    // A receive side that takes a little and then claims success.
    const direct = await grant(jobId, d, "head -c 1000 >/dev/null; exit 0");
    try {
      await expect(
        copyFull({
          source: { host, device: s },
          target: { host, device: d },
          journal,
          jobId,
          pass: "full",
          bytes: 24 * MiB,
          direct,
          transientRetries: 0,
        }),
      ).rejects.toThrow();
    } finally {
      await revoke(jobId);
    }
    const rows = journal.plan(jobId, "full", [[0, 24 * MiB]]);
    expect(rows.every((row) => !row.confirmed)).toBe(true);
  });

  it("a source whose ssh to the target dies is a lost link (DirectLinkError), never a confirmed range", async () => {
    const s = join(dir, "src.img");
    const d = join(dir, "dst-cut.img");
    writeFileSync(d, Buffer.alloc(24 * MiB, 0x5a));
    const jobId = insertJob(t.db);
    const direct = await grant(jobId, d);
    // The same access, aimed at a port nobody listens on: the source's ssh exits 255 as on a cut link.
    const cut = { ...direct, sshCommand: direct.sshCommand.replace(`'${sshd.port}'`, `'${await freePort()}'`) };
    expect(cut.sshCommand).not.toBe(direct.sshCommand);
    try {
      await expect(
        copyFull({
          source: { host, device: s },
          target: { host, device: d },
          journal,
          jobId,
          pass: "full",
          bytes: 24 * MiB,
          direct: cut,
        }),
      ).rejects.toBeInstanceOf(DirectLinkError);
    } finally {
      await revoke(jobId);
    }
    const rows = journal.plan(jobId, "full", [[0, 24 * MiB]]);
    expect(rows.every((row) => !row.confirmed)).toBe(true);
  });

  it("copies a set's disks at once, each with a key of its own into its own device; one's revoke leaves the other's", async () => {
    const jobId = insertJob(t.db);
    const disks = [0, 1].map((disk) => {
      const s = join(dir, `set-src-${disk}.img`);
      const d = join(dir, `set-dst-${disk}.img`);
      const data = volume(s);
      writeFileSync(d, Buffer.alloc(data.length));
      return { disk, s, d, bytes: data.length };
    });
    const disk1Journal = insertJob(t.db);
    const receive = (disk: number, device: string) => directReceiveCommand({ jobId, disk, device, hash: "b2sum" });
    // One after the other, as the server's per-host queue runs them (two at once race on authorized_keys): with
    // one name per job, the second grant replaced the first's key line, forced command (the other disk's device)
    // and source directory.
    const paths: DirectPath[] = [];
    for (const x of disks) paths.push(await grant(jobId, x.d, receive(x.disk, x.d), x.disk));
    const keyLines = () =>
      readFileSync(join(sshd.dir, ".ssh/authorized_keys"), "utf8")
        .split("\n")
        .filter((l) => l.includes("blockferry-migration"));
    try {
      expect(keyLines().map((l) => l.split(" ").at(-1))).toEqual([
        expect.stringMatching(new RegExp(`^blockferry-migration-${jobId}(-d1)?$`)),
        expect.stringMatching(new RegExp(`^blockferry-migration-${jobId}(-d1)?$`)),
      ]);
      expect(new Set(keyLines().map((l) => l.split(" ").at(-1))).size).toBe(2);
      const copy = (x: (typeof disks)[number], path: DirectPath, pass: string) =>
        copyFull({
          source: { host, device: x.s },
          target: { host, device: x.d },
          journal,
          // The journal's rows (a job of its own for disk 1: this job has no disk rows); the access is the set's.
          jobId: x.disk === 0 ? jobId : disk1Journal,
          pass,
          bytes: x.bytes,
          rangeBytes: 8 * MiB,
          direct: path,
          bandwidth: new RateLimiter(null),
        });
      await Promise.all(disks.map((x, i) => copy(x, paths[i] as DirectPath, "full")));
      for (const x of disks) expect(sha256File(x.d), `disk ${x.disk}`).toBe(sha256File(x.s));

      // Disk 1's copy ends (its access goes); disk 0's key, directory and receive side are untouched.
      await revoke(jobId, 1);
      expect(keyLines().map((l) => l.split(" ").at(-1))).toEqual([`blockferry-migration-${jobId}`]);
      expect(existsSync(`/run/blockferry-${jobId}-d1`)).toBe(false);
      writeFileSync(disks[0]?.d as string, Buffer.alloc(disks[0]?.bytes as number));
      await copy(disks[0] as (typeof disks)[number], paths[0] as DirectPath, "full-again");
      expect(sha256File(disks[0]?.d as string)).toBe(sha256File(disks[0]?.s as string));
    } finally {
      await revoke(jobId, 1);
      await revoke(jobId);
    }
    expect(keyLines()).toEqual([]);
    expect(existsSync(`/run/blockferry-${jobId}`)).toBe(false);
  });

  it("revoking ends a receive side whose source went silent (as on a cut link), not only its key", async () => {
    const d = join(dir, "dst-silent.img");
    writeFileSync(d, Buffer.alloc(4 * MiB));
    const jobId = insertJob(t.db);
    const direct = await grant(jobId, d);
    // The source's ssh (this machine is both hosts): a record of 1 MiB of which 3 bytes arrive, then the client
    // is stopped. The target's sshd keeps the session and its receive side waits for the rest.
    const client = spawn("/bin/sh", ["-c", `exec ${direct.sshCommand}`], { stdio: ["pipe", "ignore", "ignore"] });
    client.stdin.write("d 0 1048576\nabc");
    const pidDir = `/run/blockferry-${jobId}`;
    const receivers = () =>
      (spawnSync("sh", ["-c", `cat ${pidDir}/r.* 2>/dev/null`], { encoding: "utf8" }).stdout.match(/\d+/g) ?? []).map(
        Number,
      );
    const alive = (pid: number) => spawnSync("kill", ["-0", String(pid)]).status === 0 && !isZombie(pid);
    try {
      await until("the receive side to start", () => receivers().length === 1);
      const [receiver] = receivers() as [number];
      client.kill("SIGSTOP");
      const t0 = performance.now();
      await revoke(jobId);
      await until("the receive side to end", () => !alive(receiver));
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      client.kill("SIGKILL");
    }
    expect(existsSync(pidDir)).toBe(false);
  });

  it("paces in 32 MiB steps without a limit (progress every step), in 4 MiB blocks under one; both copy exactly", async () => {
    // 72 MiB: 8 MiB data, 12 MiB zero, 52 MiB data.
    const s = join(dir, "src-steps.img");
    const buf = Buffer.alloc(72 * MiB);
    randomBytes(8 * MiB).copy(buf, 0);
    randomBytes(52 * MiB).copy(buf, 20 * MiB);
    writeFileSync(s, buf);
    for (const limit of [null, 1 << 30]) {
      const d = join(dir, "dst-steps.img");
      writeFileSync(d, Buffer.alloc(72 * MiB, 0x5a));
      const jobId = insertJob(t.db);
      const direct = await grant(jobId, d);
      const reads: number[] = [];
      const counts = { bytesRead: 0, bytesOnWire: 0, bytesSent: 0, bytesZeroed: 0, bytesSkipped: 0 };
      try {
        const hash = await directBatch(
          {
            source: { host, device: s },
            path: direct,
            runs: [[0, 72 * MiB]],
            blockBytes: 4 * MiB,
            zeroes: true,
            skipZeroes: false,
            bandwidth: new RateLimiter(limit),
            onRead: (n) => reads.push(n / MiB),
          },
          new AbortController().signal,
          counts,
        );
        expect(hash).toMatch(/^[0-9a-f]{128}$/);
      } finally {
        await revoke(jobId);
      }
      expect(sha256File(d)).toBe(sha256File(s));
      expect(counts).toMatchObject({ bytesRead: 72 * MiB, bytesSent: 60 * MiB, bytesZeroed: 12 * MiB });
      // Unlimited: a step per record up to 32 MiB (data 8, zero 12, data 32 + 20); limited: one per 4 MiB block.
      expect(reads).toEqual(limit === null ? [8, 12, 32, 20] : Array.from({ length: 18 }, () => 4));
    }
  });
});

describe("direct full-copy batches", () => {
  it("are 512 MiB under a limit; without one the copy split over the batches in flight, 512 MiB to 2 GiB", () => {
    const range = 64 * MiB;
    const limited = new RateLimiter(10 * MiB);
    expect(directBatchBytes({ bytes: 100 * 1024 * MiB, bandwidth: limited }, range)).toBe(DIRECT_BATCH_BYTES);
    expect(directBatchBytes({ bytes: 512 * MiB }, range)).toBe(DIRECT_BATCH_BYTES);
    expect(directBatchBytes({ bytes: 3000 * MiB }, range)).toBe(1024 * MiB);
    expect(directBatchBytes({ bytes: 3000 * MiB, concurrency: 1 }, range)).toBe(DIRECT_MAX_BATCH_BYTES);
    expect(directBatchBytes({ bytes: 100 * 1024 * MiB, bandwidth: new RateLimiter(null) }, range)).toBe(
      DIRECT_MAX_BATCH_BYTES,
    );
  });
});

// The SFTP path of copyExtents (many small runs, no process per run) against a real loopback sshd.
import { spawnSync } from "node:child_process";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ExtentMap } from "../../../../packages/changes/src/extent-map.ts";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import { createTransferJournal } from "../../src/db/repositories/transfer-journal.ts";
import { ConnectionLostError, HostUnreachableError } from "../../src/hosts/index.ts";
import { copyExtents, RateLimiter, VerifyMismatchError } from "../../src/transfer/index.ts";
import type { TransferProgress } from "../../src/transfer/progress.ts";
import { tempDb } from "../support/helpers.ts";
import { insertJob, sha256File } from "./support/fixture.ts";
import { QUIET_SHELL, type TestHost, testHost } from "./support/hosts.ts";
import { flippingTarget, recording, sentRuns, usedSftp } from "./support/wrappers.ts";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });
const MiB = 1 << 20;
const CHUNK = 64 * 1024;
let sshd: LoopbackSshd;
let src: TestHost;
let dst: TestHost;
/** A third connection, for the test's own remote commands while a copy runs. */
let other: TestHost;
let dir: string;
const t = tempDb();
const journal = createTransferJournal(t.db);

beforeAll(async () => {
  sshd = await startLoopbackSshd(QUIET_SHELL);
  src = testHost(sshd);
  dst = testHost(sshd);
  other = testHost(sshd);
  dir = mkdtempSync(join("/dev/shm", "bf-sftp-"));
});
afterAll(async () => {
  await Promise.all([src?.close(), dst?.close(), other?.close()]);
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
  t.cleanup();
});

/** Source of random bytes, target of other bytes (nothing passes by luck). */
function volumes(name: string, bytes: number): { s: string; d: string; data: Buffer } {
  const s = join(dir, `${name}-src.img`);
  const d = join(dir, `${name}-dst.img`);
  const data = randomBytes(bytes);
  writeFileSync(s, data);
  writeFileSync(d, Buffer.alloc(bytes, 0x77));
  return { s, d, data };
}

/** `count` runs of 1..maxChunks chunks at random places, never touching each other. */
function scattered(bytes: number, count: number, maxChunks = 1): ExtentMap {
  const chunks = bytes / CHUNK;
  const runs = new Map<number, number>();
  const taken = new Set<number>();
  while (runs.size < count) {
    const n = randomInt(1, maxChunks + 1);
    const first = randomInt(chunks - n);
    if (Array.from({ length: n + 2 }, (_, i) => first - 1 + i).some((c) => taken.has(c))) continue;
    for (let c = first; c < first + n; c++) taken.add(c);
    runs.set(first, n);
  }
  return ExtentMap.fromRuns([...runs].sort((a, b) => a[0] - b[0]));
}

/** What the target must hold: its old bytes, with the map's chunks taken from the source. */
function expected(before: Buffer, data: Buffer, map: ExtentMap): Buffer {
  const want = Buffer.from(before);
  for (const [first, count] of map) data.copy(want, first * CHUNK, first * CHUNK, (first + count) * CHUNK);
  return want;
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Processes whose command line names `path` (dd of ours), on the loopback "hosts". */
async function processesNaming(path: string): Promise<string> {
  const out = await other.run(`ps -eo pid,args | grep -F -- ${JSON.stringify(path)} | grep -v grep || true`);
  return out.trim();
}

/** Descriptors any process holds on files under `path` (SFTP handles live in the sshd session processes). */
function openDescriptors(path: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(path)) out.push(`${pid}/${fd}`);
      } catch {
        // closed meanwhile
      }
    }
  }
  return out;
}

async function nothingLeft(path: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await processesNaming(path)) === "" && openDescriptors(path).length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await processesNaming(path)).toBe("");
  expect(openDescriptors(path)).toEqual([]);
}

/** Byte runs sorted and joined where they touch. */
function joined(runs: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const [o, l] of [...runs].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === o) last[1] += l;
    else out.push([o, l]);
  }
  return out;
}
const bytesOf = (map: ExtentMap) => [...map].map(([f, n]) => [f * CHUNK, n * CHUNK] as [number, number]);

const overlaps = (a: readonly [number, number][], b: readonly [number, number][]) =>
  a.some(([o, l]) => b.some(([p, m]) => o < p + m && p < o + l));

describe("small scattered runs over SFTP", () => {
  it("copies scattered runs byte-identical without a process per run, and journals every range", async () => {
    const bytes = 128 * MiB;
    const { s, d, data } = volumes("scatter", bytes);
    const before = readFileSync(d);
    const map = scattered(bytes, 150, 4); // 64..256 KiB runs
    const srcLog: string[] = [];
    const dstLog: string[] = [];
    const jobId = insertJob(t.db);
    const progress: TransferProgress[] = [];
    const r = await copyExtents({
      source: { host: recording(src, srcLog), device: s },
      target: { host: recording(dst, dstLog), device: d },
      journal,
      jobId,
      pass: "final",
      extents: map,
      chunkBytes: CHUNK,
      deviceBytes: bytes,
      onProgress: (p) => progress.push(p),
    });
    const want = expected(before, data, map);
    // sha256 of both sides: the target equals the source on the map's chunks and kept everything else.
    expect(sha256File(d)).toBe(sha(want));
    expect(sha(readFileSync(s))).toBe(sha(data));
    expect(r.rangesConfirmed).toBe(150);
    expect(r.bytesSent).toBe(map.chunkCount * CHUNK);
    expect(journal.totals(jobId, "final")).toMatchObject({ rangesDone: 150, bytesDone: map.chunkCount * CHUNK });
    expect(ExtentMap.fromRuns(progress.flatMap((p) => p.doneRuns ?? [])).equals(map)).toBe(true);
    // No dd per run: the source ran nothing, the target one cache drop per batch (at most 3: the default
    // concurrency).
    expect(srcLog.filter((c) => !c.startsWith("sftp-read "))).toEqual([]);
    const dstCommands = dstLog.filter((c) => !c.startsWith("sftp-read "));
    expect(dstCommands.length).toBeGreaterThanOrEqual(1);
    expect(dstCommands.length).toBeLessThanOrEqual(3);
    expect(dstCommands.every((c) => c.includes("iflag=nocache") && !c.includes("w(){"))).toBe(true);
    // What the source sent is exactly the map, and the target read all of it back.
    expect(joined(sentRuns(srcLog))).toEqual(bytesOf(map));
    expect(joined(sentRuns(dstLog))).toEqual(bytesOf(map));
    await nothingLeft(dir);
  });

  it("sends runs of at least sftpRunBytes through dd and the others over SFTP, in one pass", async () => {
    const bytes = 32 * MiB;
    const { s, d, data } = volumes("mixed", bytes);
    const before = readFileSync(d);
    const map = ExtentMap.fromRuns([
      [3, 1],
      [40, 2],
      [64, 48], // 3 MiB
      [200, 1],
      [300, 16], // exactly 1 MiB: dd
      [400, 15], // just below: SFTP
    ]);
    const srcLog: string[] = [];
    const r = await copyExtents({
      source: { host: recording(src, srcLog), device: s },
      target: { host: dst, device: d },
      journal,
      jobId: insertJob(t.db),
      pass: "final",
      extents: map,
      chunkBytes: CHUNK,
      deviceBytes: bytes,
      rangeBytes: MiB,
    });
    expect(sha256File(d)).toBe(sha(expected(before, data, map)));
    expect(r.bytesSent).toBe(map.chunkCount * CHUNK);
    const ddRuns = sentRuns(srcLog.filter((c) => !c.startsWith("sftp-read ")));
    const sftpRuns = sentRuns(srcLog.filter((c) => c.startsWith("sftp-read ")));
    expect(joined(ddRuns)).toEqual(
      bytesOf(
        ExtentMap.fromRuns([
          [64, 48],
          [300, 16],
        ]),
      ),
    );
    expect(joined(sftpRuns)).toEqual(
      bytesOf(
        ExtentMap.fromRuns([
          [3, 1],
          [40, 2],
          [200, 1],
          [400, 15],
        ]),
      ),
    );

    // sftpRunBytes 0: the old way, dd for every run.
    const log: string[] = [];
    writeFileSync(d, before);
    await copyExtents({
      source: { host: recording(src, log), device: s },
      target: { host: dst, device: d },
      journal,
      jobId: insertJob(t.db),
      pass: "final",
      extents: map,
      chunkBytes: CHUNK,
      deviceBytes: bytes,
      sftpRunBytes: 0,
    });
    expect(usedSftp(log)).toBe(false);
    expect(sha256File(d)).toBe(sha(expected(before, data, map)));
  });

  it("a byte flipped on the target between write and read-back is caught: retried, or VerifyMismatchError", async () => {
    const bytes = 8 * MiB;
    const { s, d, data } = volumes("flip", bytes);
    const before = readFileSync(d);
    const map = scattered(bytes, 20);
    // A real second connection changes the byte on the "disk" after fsync, before the read-back.
    const flip = (offset: number) =>
      other
        .run(
          `printf '\\${(((data[offset] as number) ^ 0xff) >>> 0).toString(8).padStart(3, "0")}' | dd of=${d} bs=1 seek=${offset} count=1 conv=notrunc status=none`,
        )
        .then(() => undefined);
    const opts = {
      source: { host: src, device: s },
      journal,
      pass: "final",
      extents: map,
      chunkBytes: CHUNK,
      deviceBytes: bytes,
      concurrency: 1,
    };
    const once = flippingTarget(dst, 1, flip);
    const r = await copyExtents({ ...opts, jobId: insertJob(t.db), target: { host: once, device: d } });
    expect(once.flipped()).toBe(1);
    expect(r.retries).toBe(1);
    expect(sha256File(d)).toBe(sha(expected(before, data, map)));

    writeFileSync(d, before);
    const jobId = insertJob(t.db);
    const always = flippingTarget(dst, 1000, flip);
    const err = await copyExtents({ ...opts, jobId, target: { host: always, device: d } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerifyMismatchError);
    expect(always.flipped()).toBe(2); // maxAttempts
    expect(journal.totals(jobId, "final").rangesDone).toBe(0);
    expect(sha256File(d)).not.toBe(sha(expected(before, data, map)));
  });

  it("a lost SFTP session mid-batch is retried once; a dropped connection without retry resumes from the journal", async () => {
    const bytes = 128 * MiB;
    const { s, d, data } = volumes("drop", bytes);
    const before = readFileSync(d);
    const map = scattered(bytes, 240);
    const common = {
      target: { host: dst, device: d },
      journal,
      pass: "final",
      extents: map,
      chunkBytes: CHUNK,
      deviceBytes: bytes,
      sftpBatchBytes: MiB, // 16 runs a batch: many batches
      concurrency: 2,
    };

    // The source's SFTP session dies mid-batch (its sshd session process, holding the source open, is killed):
    // the batch is sent again over a new session and the copy succeeds.
    let killed = false;
    const r1 = await copyExtents({
      ...common,
      source: { host: src, device: s },
      jobId: insertJob(t.db),
      onProgress: (p) => {
        // Right after a confirm (a report with doneRuns), as the next batch reads: the half-second reports between
        // confirms can come when every batch in flight has read all it needs, and then nothing would fail.
        if (killed || p.rangesDone < 32 || !p.doneRuns) return;
        const holder = openDescriptors(s)[0]?.split("/")[0];
        if (holder) {
          process.kill(Number(holder), "SIGKILL");
          killed = true;
        }
      },
    });
    expect(killed).toBe(true);
    expect(r1.retries).toBeGreaterThanOrEqual(1);
    expect(sha256File(d)).toBe(sha(expected(before, data, map)));

    // sshd and every session die: without a retry the run fails typed, and the next run sends only what the
    // journal has not confirmed.
    writeFileSync(d, before);
    const jobId = insertJob(t.db);
    let restarted: Promise<void> | null = null;
    const err = await copyExtents({
      ...common,
      source: { host: src, device: s },
      jobId,
      transientRetries: 0,
      onProgress: (p) => {
        if (!restarted && p.rangesDone >= 32) restarted = sshd.restart();
      },
    }).catch((e: unknown) => e);
    await restarted;
    expect(err instanceof ConnectionLostError || err instanceof HostUnreachableError).toBe(true);
    const confirmed = journal
      .ranges(jobId, "final")
      .filter((r) => r.confirmed)
      .map((r) => [r.offset, r.length] as [number, number]);
    expect(confirmed.length).toBeGreaterThanOrEqual(32);
    expect(confirmed.length).toBeLessThan(240);
    const log: string[] = [];
    const r2 = await copyExtents({ ...common, source: { host: recording(src, log), device: s }, jobId });
    expect(r2.rangesAlreadyDone).toBe(confirmed.length);
    expect(r2.rangesConfirmed).toBe(240 - confirmed.length);
    expect(usedSftp(log)).toBe(true);
    expect(overlaps(sentRuns(log), confirmed)).toBe(false);
    expect(sha256File(d)).toBe(sha(expected(before, data, map)));
    await nothingLeft(dir);
  });

  it("with a transient window, a copy rides out sshd going away and coming back, and finishes by itself", async () => {
    const bytes = 64 * MiB;
    const { s, d, data } = volumes("window", bytes);
    const before = readFileSync(d);
    const map = scattered(bytes, 120);
    let restarted: Promise<void> | null = null;
    const r = await copyExtents({
      source: { host: src, device: s },
      target: { host: dst, device: d },
      journal,
      jobId: insertJob(t.db),
      pass: "final",
      extents: map,
      chunkBytes: CHUNK,
      deviceBytes: bytes,
      sftpBatchBytes: MiB,
      concurrency: 2,
      // No immediate retry: only the window (waiting between tries) brings the copy through.
      transientRetries: 0,
      transientWindowMs: 30_000,
      onProgress: (p) => {
        if (!restarted && p.rangesDone >= 16) restarted = sshd.restart();
      },
    });
    await restarted;
    expect(restarted).not.toBeNull();
    expect(r.retries).toBeGreaterThanOrEqual(1);
    expect(r.rangesConfirmed).toBe(120);
    expect(sha256File(d)).toBe(sha(expected(before, data, map)));
  });

  it("cancel stops promptly and leaves no process and no open handle; the bandwidth limit holds", async () => {
    const bytes = 128 * MiB;
    const { s, d, data } = volumes("cancel", bytes);
    const before = readFileSync(d);
    const map = scattered(bytes, 256); // 16 MiB
    const jobId = insertJob(t.db);
    const limiter = new RateLimiter(4 * MiB);
    const stop = new AbortController();
    const opts = {
      source: { host: src, device: s },
      target: { host: dst, device: d },
      journal,
      jobId,
      pass: "final",
      extents: map,
      chunkBytes: CHUNK,
      deviceBytes: bytes,
      bandwidth: limiter,
    };
    const run = copyExtents({ ...opts, signal: stop.signal });
    await new Promise((r) => setTimeout(r, 1500));
    expect(openDescriptors(dir).length).toBeGreaterThan(0); // SFTP handles are open right now
    const t0 = performance.now();
    stop.abort(new Error("cancelled by operator"));
    await expect(run).rejects.toThrow("cancelled by operator");
    expect(performance.now() - t0).toBeLessThan(1000);
    await nothingLeft(dir);
    // 4 MiB/s for 1.5 s: nothing can have been confirmed yet (each batch holds over 5 MiB).
    expect(journal.totals(jobId, "final").bytesDone).toBe(0);

    // 4 MiB of a fresh map at 4 MiB/s takes about a second (a quarter second of credit at most).
    const small = scattered(bytes, 64);
    writeFileSync(d, before);
    const t1 = performance.now();
    await copyExtents({ ...opts, jobId: insertJob(t.db), extents: small });
    expect(performance.now() - t1).toBeGreaterThan(700);
    expect(sha256File(d)).toBe(sha(expected(before, data, small)));
  });
});

const canLoop = process.getuid?.() === 0 && existsSync("/dev/loop-control");

describe.skipIf(!canLoop)("on a real block device (loop, root only)", () => {
  it("the read-back after fsync and the cache drop reads the device itself", async () => {
    const bytes = 16 * MiB;
    const { s, d, data } = volumes("loop", bytes);
    const before = readFileSync(d);
    const lo = spawnSync("losetup", ["-f", "--show", d]);
    const dev = lo.stdout.toString().trim();
    expect(lo.status).toBe(0);
    const readSectors = () =>
      Number(
        readFileSync(`/sys/block/${dev.slice(5)}/stat`, "utf8")
          .trim()
          .split(/\s+/)[2],
      );
    try {
      const map = scattered(bytes, 40);
      const r0 = readSectors();
      await copyExtents({
        source: { host: src, device: s },
        target: { host: dst, device: dev },
        journal,
        jobId: insertJob(t.db),
        pass: "final",
        extents: map,
        chunkBytes: CHUNK,
        deviceBytes: bytes,
      });
      // The SFTP handle keeps the device open, so without the drop every read-back would hit the cache.
      expect(readSectors() - r0).toBeGreaterThanOrEqual((map.chunkCount * CHUNK) / 512);
      const got = spawnSync("sha256sum", [dev]).stdout.toString().split(" ")[0];
      expect(got).toBe(sha(expected(before, data, map)));
    } finally {
      spawnSync("losetup", ["-d", dev]);
    }
  });
});

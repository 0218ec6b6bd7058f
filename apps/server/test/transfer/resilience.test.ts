import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import { openDb } from "../../src/db/open.ts";
import { createTransferJournal } from "../../src/db/repositories/transfer-journal.ts";
import {
  copyFull,
  RateLimiter,
  TruncatedStreamError,
  VerifyMismatchError,
  verifyRanges,
} from "../../src/transfer/index.ts";
import type { TransferProgress } from "../../src/transfer/progress.ts";
import { tempDb } from "../support/helpers.ts";
import { insertJob, sha256File, writeAt } from "./support/fixture.ts";
import { QUIET_SHELL, type TestHost, testHost } from "./support/hosts.ts";
import { corruptingTarget, recording, sentRuns } from "./support/wrappers.ts";

vi.setConfig({ testTimeout: 180_000, hookTimeout: 60_000 });
const MiB = 1 << 20;
let sshd: LoopbackSshd;
let src: TestHost;
let dst: TestHost;
let dir: string;
const t = tempDb();

beforeAll(async () => {
  sshd = await startLoopbackSshd(QUIET_SHELL);
  src = testHost(sshd);
  dst = testHost(sshd);
  dir = mkdtempSync(join("/dev/shm", "bf-res-"));
});
afterAll(async () => {
  await src?.close();
  await dst?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
  t.cleanup();
});

function volumes(name: string, bytes: number): { s: string; d: string } {
  const s = join(dir, `${name}-src.img`);
  const d = join(dir, `${name}-dst.img`);
  const data = randomBytes(bytes);
  data.fill(0, bytes / 4, bytes / 2); // a zero quarter: the detect path takes part
  writeFileSync(s, data);
  writeFileSync(d, Buffer.alloc(bytes, 0x77));
  return { s, d };
}

/** Our processes on the loopback "hosts": any command line naming this test's files. */
async function ourProcesses(path: string): Promise<string> {
  const out = await src.run(`ps -eo pid,args | grep -F -- ${JSON.stringify(path)} | grep -v grep || true`);
  return out.trim();
}

async function noProcessesLeft(path: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await ourProcesses(path)) === "") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await ourProcesses(path)).toBe("");
}

const overlaps = (a: readonly [number, number][], b: readonly [number, number][]) =>
  a.some(([o, l]) => b.some(([p, m]) => o < p + m && p < o + l));

describe("resume, integrity and cancel against a real sshd", () => {
  it("a dropped connection mid-copy fails the run; the next run resends nothing confirmed and ends identical", async () => {
    const bytes = 48 * MiB;
    const { s, d } = volumes("drop", bytes);
    const journal = createTransferJournal(t.db);
    const jobId = insertJob(t.db);
    const common = {
      target: { host: dst, device: d },
      journal,
      jobId,
      pass: "full",
      bytes,
      rangeBytes: 4 * MiB,
      blockBytes: MiB,
      concurrency: 2,
    };
    let dropped = false;
    let restarted: Promise<void> = Promise.resolve();
    const first = copyFull({
      ...common,
      source: { host: src, device: s },
      transientRetries: 0, // let the drop end this run: the next run must resume from the journal
      onProgress: (p) => {
        if (!dropped && p.rangesDone >= 2) {
          dropped = true;
          // sshd and every session under it die (our dd processes too), then it listens again.
          restarted = sshd.restart();
        }
      },
    });
    expect(await first.catch((e: unknown) => e)).toBeInstanceOf(Error);
    await restarted;
    const before = journal
      .ranges(jobId, "full")
      .filter((r) => r.confirmed)
      .map((r) => [r.offset, r.length] as [number, number]);
    expect(before.length).toBeGreaterThanOrEqual(2);
    expect(before.length).toBeLessThan(12);
    const log: string[] = [];
    const r = await copyFull({ ...common, source: { host: recording(src, log), device: s } });
    expect(r.rangesAlreadyDone).toBe(before.length);
    expect(r.rangesConfirmed).toBe(12 - before.length);
    expect(overlaps(sentRuns(log), before)).toBe(false);
    expect(sha256File(d)).toBe(sha256File(s));
  });

  it("a server crash mid-copy (abort, new engine, same DB file) resumes without resending and ends identical", async () => {
    const bytes = 40 * MiB;
    const { s, d } = volumes("crash", bytes);
    const file = join(t.dir, "crash.db");
    let db = openDb(file);
    const jobId = insertJob(db);
    const crash = new AbortController();
    const common = {
      target: { host: dst, device: d },
      jobId,
      pass: "full",
      bytes,
      rangeBytes: 4 * MiB,
      blockBytes: MiB,
      concurrency: 2,
    };
    const first = copyFull({
      ...common,
      source: { host: src, device: s },
      journal: createTransferJournal(db),
      signal: crash.signal,
      onProgress: (p) => {
        if (p.rangesDone >= 3) crash.abort(new Error("simulated crash"));
      },
    });
    await expect(first).rejects.toThrow("simulated crash");
    await noProcessesLeft(dir); // nothing of ours keeps running on either host
    db.$client.close();

    db = openDb(file); // "restart": fresh engine state, only the database survives
    const journal = createTransferJournal(db);
    const before = journal
      .ranges(jobId, "full")
      .filter((r) => r.confirmed)
      .map((r) => [r.offset, r.length] as [number, number]);
    expect(before.length).toBeGreaterThanOrEqual(3);
    const log: string[] = [];
    const r = await copyFull({ ...common, source: { host: recording(src, log), device: s }, journal });
    expect(r.rangesAlreadyDone).toBe(before.length);
    expect(r.rangesAlreadyDone + r.rangesConfirmed).toBe(10);
    expect(overlaps(sentRuns(log), before)).toBe(false);
    expect(journal.totals(jobId, "full")).toMatchObject({ bytesDone: bytes, rangesDone: 10 });
    expect(sha256File(d)).toBe(sha256File(s));
    db.$client.close();
  });

  for (const zeroes of ["detect", "send"] as const) {
    it(`bytes that differ on the target before read-back are caught (${zeroes}): retried, or a clear failure`, async () => {
      const bytes = 8 * MiB;
      const { s, d } = volumes(`corrupt-${zeroes}`, bytes);
      const journal = createTransferJournal(t.db);
      const once = corruptingTarget(dst, 1);
      const jobId = insertJob(t.db);
      const opts = {
        source: { host: src, device: s },
        journal,
        jobId,
        pass: "full",
        bytes,
        rangeBytes: 4 * MiB,
        blockBytes: MiB,
        zeroes,
      };
      const r = await copyFull({ ...opts, target: { host: once, device: d } });
      expect(once.corrupted()).toBe(1);
      expect(r.retries).toBe(1);
      expect(sha256File(d)).toBe(sha256File(s));

      const job2 = insertJob(t.db);
      writeFileSync(d, Buffer.alloc(bytes, 0x77));
      const always = corruptingTarget(dst, 1000);
      const err = await copyFull({ ...opts, jobId: job2, target: { host: always, device: d } }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(VerifyMismatchError);
      expect(journal.totals(job2, "full").rangesDone).toBeLessThan(2);
      expect(sha256File(d)).not.toBe(sha256File(s));
    });
  }

  it("a byte flipped on the target after the copy is found by verifyRanges and fixed by resending only its range", async () => {
    const bytes = 16 * MiB;
    const { s, d } = volumes("flip", bytes);
    const journal = createTransferJournal(t.db);
    const jobId = insertJob(t.db);
    const opts = {
      source: { host: src, device: s },
      target: { host: dst, device: d },
      journal,
      jobId,
      pass: "full",
      bytes,
      rangeBytes: 4 * MiB,
      blockBytes: MiB,
    };
    await copyFull(opts);
    const confirmed = () => journal.ranges(jobId, "full").map((r) => [r.offset, r.length] as const);
    const verify = () => verifyRanges({ ...opts, ranges: confirmed(), batchBytes: 4 * MiB });
    const clean = await verify();
    expect(clean.mismatched).toEqual([]);
    expect(clean.bytesChecked).toBe(bytes);
    writeAt(d, 9 * MiB + 12345, Buffer.from([0x42 ^ 0xff]));
    const v = await verify();
    expect(v.mismatched).toEqual([[8 * MiB, 4 * MiB]]);
    journal.unconfirm(
      jobId,
      "full",
      v.mismatched.map(([offset]) => offset),
    );
    expect(journal.totals(jobId, "full").rangesDone).toBe(3);
    const log: string[] = [];
    const r = await copyFull({ ...opts, source: { host: recording(src, log), device: s } });
    expect(r.rangesConfirmed).toBe(1);
    expect(sentRuns(log).every(([o, l]) => o >= 8 * MiB && o + l <= 12 * MiB)).toBe(true);
    expect(sha256File(d)).toBe(sha256File(s));
  });

  it("a source stream that ends early is an error, never success", async () => {
    const { s, d } = volumes("short", 6 * MiB);
    const journal = createTransferJournal(t.db);
    for (const zeroes of ["send", "detect"] as const) {
      const jobId = insertJob(t.db);
      // The plan says 8 MiB but the source has 6: its last range's stream ends 2 MiB early.
      const err = await copyFull({
        source: { host: src, device: s },
        target: { host: dst, device: d },
        journal,
        jobId,
        pass: "full",
        bytes: 8 * MiB,
        rangeBytes: 4 * MiB,
        blockBytes: MiB,
        zeroes,
        concurrency: 1,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      if (zeroes === "send") expect(err).toBeInstanceOf(TruncatedStreamError);
      const rows = journal.ranges(jobId, "full");
      expect(rows.find((r) => r.offset === 4 * MiB)?.confirmed).toBe(false);
    }
  });

  it("cancel stops at once and leaves no process of ours on either host; the bandwidth limit holds and can change", async () => {
    const bytes = 32 * MiB;
    const { s, d } = volumes("cancel", bytes);
    const journal = createTransferJournal(t.db);
    const jobId = insertJob(t.db);
    const limiter = new RateLimiter(4 * MiB);
    const stop = new AbortController();
    const progress: TransferProgress[] = [];
    const t0 = performance.now();
    const run = copyFull({
      source: { host: src, device: s },
      target: { host: dst, device: d },
      journal,
      jobId,
      pass: "full",
      bytes,
      rangeBytes: 4 * MiB,
      blockBytes: MiB,
      zeroes: "send",
      bandwidth: limiter,
      signal: stop.signal,
      onProgress: (p) => progress.push(p),
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await ourProcesses(dir)).not.toBe(""); // dd is running right now
    stop.abort(new Error("cancelled by operator"));
    await expect(run).rejects.toThrow("cancelled by operator");
    await noProcessesLeft(dir);
    const done = journal.totals(jobId, "full").bytesDone;
    // 4 MiB/s for ~1.5 s: at most a couple of ranges can have been confirmed.
    expect(done).toBeLessThanOrEqual(8 * MiB);

    // Resume with the limit, then lift it while running.
    const t1 = performance.now();
    limiter.set(8 * MiB);
    const r = await copyFull({
      source: { host: src, device: s },
      target: { host: dst, device: d },
      journal,
      jobId,
      pass: "full",
      bytes,
      rangeBytes: 4 * MiB,
      blockBytes: MiB,
      zeroes: "send",
      bandwidth: limiter,
      concurrency: 2,
      onProgress: (p) => {
        if (p.rangesDone >= 4 && limiter.bytesPerSecond !== null) limiter.set(null);
      },
    });
    expect(r.rangesAlreadyDone + r.rangesConfirmed).toBe(8);
    expect(performance.now() - t1).toBeGreaterThan(((4 * MiB - 0) / (8 * MiB)) * 1000 * 0.9);
    expect(sha256File(d)).toBe(sha256File(s));
    expect(t0).toBeLessThan(t1);
  });
});

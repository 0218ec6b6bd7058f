import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ExtentMap } from "../../../../packages/changes/src/extent-map.ts";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import { createTransferJournal } from "../../src/db/repositories/transfer-journal.ts";
import { copyExtents, copyFull } from "../../src/transfer/engine.ts";
import type { TransferProgress } from "../../src/transfer/progress.ts";
import { tempDb } from "../support/helpers.ts";
import { insertJob, sha256File, writeAt } from "./support/fixture.ts";
import { QUIET_SHELL, type TestHost, testHost } from "./support/hosts.ts";

const MiB = 1 << 20;
let sshd: LoopbackSshd;
let src: TestHost;
let dst: TestHost;
let dir: string;
const t = tempDb();
vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });
const journal = createTransferJournal(t.db);

beforeAll(async () => {
  sshd = await startLoopbackSshd(QUIET_SHELL);
  src = testHost(sshd);
  dst = testHost(sshd);
  dir = mkdtempSync(join("/dev/shm", "bf-copy-"));
});
afterAll(async () => {
  await src?.close();
  await dst?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
  t.cleanup();
});

/** 40 MiB + 512 bytes: data, a zero stretch, a partly zero block, data again, and an odd tail. */
function mixedVolume(path: string): Buffer {
  const size = 40 * MiB + 512;
  const buf = Buffer.alloc(size);
  randomBytes(10 * MiB).copy(buf, 0);
  randomBytes(100).copy(buf, 20 * MiB + 4096); // a block that is almost all zero
  randomBytes(8 * MiB).copy(buf, 30 * MiB);
  randomBytes(512).copy(buf, 40 * MiB);
  writeFileSync(path, buf);
  return buf;
}

describe("copy over a real sshd", () => {
  for (const mode of [
    { zeroes: "detect" as const, targetReadsZero: false },
    { zeroes: "detect" as const, targetReadsZero: true },
    { zeroes: "scan" as const, targetReadsZero: false },
    { zeroes: "scan" as const, targetReadsZero: true },
    { zeroes: "send" as const, targetReadsZero: false },
    { zeroes: "detect" as const, targetReadsZero: false, compress: true },
  ]) {
    it(`full copy (${JSON.stringify(mode)}) ends byte-identical and journals every range`, async () => {
      const s = join(dir, "full-src.img");
      const d = join(dir, "full-dst.img");
      const data = mixedVolume(s);
      // A thin target reads zeroes; otherwise start from garbage so nothing passes by luck.
      writeFileSync(d, mode.targetReadsZero ? Buffer.alloc(data.length) : Buffer.alloc(data.length, 0x5a));
      const jobId = insertJob(t.db);
      const progress: TransferProgress[] = [];
      const r = await copyFull({
        source: { host: src, device: s },
        target: { host: dst, device: d },
        journal,
        jobId,
        pass: "full",
        bytes: data.length,
        rangeBytes: 8 * MiB,
        blockBytes: MiB,
        ...mode,
        onProgress: (p) => progress.push(p),
      });
      expect(sha256File(d)).toBe(sha256File(s));
      expect(r.rangesConfirmed).toBe(6);
      expect(journal.totals(jobId, "full")).toEqual({
        bytesTotal: data.length,
        bytesDone: data.length,
        rangesTotal: 6,
        rangesDone: 6,
      });
      const last = progress[progress.length - 1];
      expect(last?.bytesDone).toBe(data.length);
      expect(last?.etaSeconds).toBe(0);
      if (mode.zeroes === "send") expect(r.bytesSent).toBe(data.length);
      else {
        expect(r.bytesSent).toBe(19 * MiB + 512); // 10 + 1 (the almost-zero block) + 8 MiB + the tail
        expect(mode.targetReadsZero ? r.bytesSkipped : r.bytesZeroed).toBe(21 * MiB);
        // "scan" leaves zero blocks on the source; "detect" reads them and drops them in the server.
        expect(r.bytesRead).toBe(mode.zeroes === "scan" ? r.bytesSent : data.length);
      }
      // gzip keeps the zero blocks (and nothing of the random ones) off the source link.
      if ("compress" in mode) expect(r.bytesOnWire).toBeLessThan(r.bytesSent * 1.01);
      else expect(r.bytesOnWire).toBe(r.bytesRead);
    });
  }

  it("copies exactly the chunks of an extent map and nothing else", async () => {
    const s = join(dir, "ext-src.img");
    const d = join(dir, "ext-dst.img");
    const size = 16 * MiB;
    writeFileSync(s, randomBytes(size));
    const before = Buffer.alloc(size, 0x11);
    writeFileSync(d, before);
    const chunk = 64 * 1024;
    const extents = ExtentMap.fromRuns([
      [0, 1],
      [5, 3],
      [100, 1],
      [101, 40],
      [255, 1],
    ]);
    const jobId = insertJob(t.db);
    const progress: TransferProgress[] = [];
    const r = await copyExtents({
      source: { host: src, device: s },
      target: { host: dst, device: d },
      journal,
      jobId,
      pass: "catchup-1",
      extents,
      chunkBytes: chunk,
      deviceBytes: size,
      rangeBytes: MiB,
      batchBytes: 2 * MiB,
      onProgress: (p) => progress.push(p),
    });
    const sb = readFileSync(s);
    const want = Buffer.from(before);
    for (const [first, count] of extents) sb.copy(want, first * chunk, first * chunk, (first + count) * chunk);
    expect(readFileSync(d).equals(want)).toBe(true);
    expect(r.bytesSent).toBe(extents.chunkCount * chunk);
    const runs = progress.flatMap((p) => p.doneRuns ?? []);
    expect(ExtentMap.fromRuns(runs).equals(extents)).toBe(true);
  });

  it("a partly written target file tail is written too (odd sizes, 512-byte multiple)", async () => {
    const s = join(dir, "odd-src.img");
    const d = join(dir, "odd-dst.img");
    writeFileSync(s, randomBytes(3 * MiB + 1536));
    writeFileSync(d, Buffer.alloc(3 * MiB + 1536));
    const jobId = insertJob(t.db);
    await copyFull({
      source: { host: src, device: s },
      target: { host: dst, device: d },
      journal,
      jobId,
      pass: "full",
      bytes: 3 * MiB + 1536,
      rangeBytes: 2 * MiB,
      blockBytes: MiB,
    });
    expect(sha256File(d)).toBe(sha256File(s));
    writeAt(d, 0, Buffer.from([1]));
  });
});

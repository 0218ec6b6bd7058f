import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashRunsCommand, readRunsCommand, writeRunsCommand } from "../src/transfer-commands.ts";

const dir = mkdtempSync(join(tmpdir(), "bf-tcmd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const b2 = (b: Buffer) => createHash("blake2b512").update(b).digest("hex");
const sh = (cmd: string, input?: Buffer) => spawnSync("/bin/sh", ["-c", cmd], { input, maxBuffer: 1 << 26 });
const K = 1024;

describe("transfer command templates under a real /bin/sh", () => {
  const src = join(dir, "src.img");
  const data = randomBytes(512 * K);
  writeFileSync(src, data);

  it("reads runs in order and hashes exactly the bytes sent", () => {
    const runs = [
      [4 * K, 8 * K],
      [100 * K, 512],
      [0, 4 * K],
    ] as const;
    const r = sh(readRunsCommand({ device: src, runs, hashToStderr: true }));
    expect(r.status).toBe(0);
    const want = Buffer.concat(runs.map(([o, l]) => data.subarray(o, o + l)));
    expect(r.stdout.equals(want)).toBe(true);
    expect(r.stderr.toString()).toBe(`${b2(want)}  -\n`);
  });

  it("writes stdin to runs, zeroes others without input, fsyncs, and reads back per block and concatenated", () => {
    const dst = join(dir, "dst.img");
    writeFileSync(dst, Buffer.alloc(512 * K, 0xaa));
    const runs = [
      [0, 64 * K],
      [192 * K, 128 * K],
    ] as const;
    const zeroRuns = [[64 * K, 32 * K]] as const;
    const input = Buffer.concat(runs.map(([o, l]) => data.subarray(o, o + l)));
    const r = sh(
      writeRunsCommand({
        device: dst,
        runs,
        zeroRuns,
        readBack: { kind: "blocks", runs: [[0, 320 * K]], blockBytes: 128 * K },
      }),
      input,
    );
    expect(r.stderr.toString()).toBe("");
    expect(r.status).toBe(0);
    const out = readFileSync(dst);
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines).toEqual(
      [0, 128 * K, 256 * K].map((o) => `${b2(out.subarray(o, Math.min(o + 128 * K, 320 * K)))}  -`),
    );
    expect(out.subarray(0, 64 * K).equals(data.subarray(0, 64 * K))).toBe(true);
    expect(out.subarray(64 * K, 96 * K).every((b) => b === 0)).toBe(true);
    expect(out.subarray(96 * K, 192 * K).every((b) => b === 0xaa)).toBe(true);
    expect(out.subarray(192 * K, 320 * K).equals(data.subarray(192 * K, 320 * K))).toBe(true);
    expect(out.length).toBe(512 * K); // notrunc
    const c = sh(hashRunsCommand({ device: dst, readBack: { kind: "concat", runs } }));
    expect(c.stdout.toString()).toBe(`${b2(input)}  -\n`);
  });

  it("fails without output when the device is missing, and never creates it", () => {
    const missing = join(dir, "missing.img");
    const r = sh(
      writeRunsCommand({ device: missing, runs: [[0, 512]], readBack: { kind: "concat", runs: [[0, 512]] } }),
      Buffer.alloc(512),
    );
    expect(r.status).not.toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(existsSync(missing)).toBe(false);
  });

  it("refuses hostile paths and misaligned or fractional numbers before any shell sees them", () => {
    const marker = join(dir, "pwned");
    for (const device of [
      `/tmp/x;touch ${marker}`,
      "relative/path",
      `/tmp/$(touch ${marker})`,
      "/tmp/a b",
      "/tmp/-x/../y",
    ]) {
      expect(() => readRunsCommand({ device, runs: [[0, 512]], hashToStderr: false })).toThrow(/invalid/);
    }
    for (const run of [
      [1, 512],
      [0, 100],
      [0.5, 512],
      [-512, 512],
      [0, 0],
    ] as const) {
      expect(() => readRunsCommand({ device: src, runs: [run], hashToStderr: false })).toThrow(/invalid/);
    }
    expect(() => readRunsCommand({ device: src, runs: [], hashToStderr: false })).toThrow(/invalid/);
    execFileSync("/bin/sh", ["-c", "true"]);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("zero detection templates", () => {
  it("flags all-zero blocks, treats a short last block as data, and checks zero runs after writing", async () => {
    const { zeroScanCommand } = await import("../src/transfer-commands.ts");
    const f = join(dir, "zscan.img");
    const buf = Buffer.alloc(5 * 64 * K + 512);
    buf[64 * K + 7] = 1; // block 1 has one non-zero byte
    buf.fill(9, 4 * 64 * K, 4 * 64 * K + 100); // block 4
    writeFileSync(f, buf);
    const r = sh(zeroScanCommand({ device: f, span: [0, buf.length], blockBytes: 64 * K }));
    expect(r.stdout.toString().trim().split("\n")).toEqual(["z", "d", "z", "z", "d", "d"]);
    const w = sh(
      writeRunsCommand({
        device: f,
        runs: [],
        zeroRuns: [[64 * K, 64 * K]],
        readBack: { kind: "none" },
        zeroCheck: [
          [0, 128 * K],
          [4 * 64 * K, 512],
        ],
      }),
    );
    expect(w.status).toBe(0);
    expect(w.stdout.toString()).toBe("z\nx\n");
  });
});

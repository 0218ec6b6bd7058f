import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  cuedDropCacheCommand,
  dropCacheCommand,
  HASH_TOOL_PROBE_COMMAND,
  HASH_TOOLS,
  hashRunsCommand,
  readRunsCommand,
  receiveRecordsCommand,
} from "../src/transfer-commands.ts";

const dir = mkdtempSync(join(tmpdir(), "bf-tcmd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const b2 = (b: Buffer) => createHash("blake2b512").update(b).digest("hex");
const sh = (cmd: string, input?: Buffer) => spawnSync("/bin/sh", ["-c", cmd], { input, maxBuffer: 1 << 26 });
const K = 1024;
const records = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

describe("transfer command templates under a real /bin/sh", () => {
  const src = join(dir, "src.img");
  const data = randomBytes(512 * K);
  writeFileSync(src, data);

  it("reads runs in order", () => {
    const runs = [
      [4 * K, 8 * K],
      [100 * K, 512],
      [0, 4 * K],
    ] as const;
    const r = sh(readRunsCommand({ device: src, runs }));
    expect(r.status).toBe(0);
    expect(r.stdout.equals(Buffer.concat(runs.map(([o, l]) => data.subarray(o, o + l))))).toBe(true);
  });

  it("writes data records, zero records from /dev/zero, fsyncs, and proves both by reading the device back", () => {
    const dst = join(dir, "dst.img");
    writeFileSync(dst, Buffer.alloc(512 * K, 0xaa));
    const a = data.subarray(0, 64 * K);
    const b = data.subarray(192 * K, 320 * K);
    const r = sh(
      receiveRecordsCommand({ device: dst }),
      records(`d 0 ${64 * K}\n`, a, `z ${64 * K} ${32 * K}\n`, `d ${192 * K} ${128 * K}\n`, b, "e\n"),
    );
    expect(r.stderr.toString()).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toBe(`${b2(Buffer.concat([a, b]))}  -\nz\n`);
    const out = readFileSync(dst);
    expect(out.subarray(0, 64 * K).equals(a)).toBe(true);
    expect(out.subarray(64 * K, 96 * K).every((x) => x === 0)).toBe(true);
    expect(out.subarray(96 * K, 192 * K).every((x) => x === 0xaa)).toBe(true);
    expect(out.subarray(192 * K, 320 * K).equals(b)).toBe(true);
    expect(out.length).toBe(512 * K); // notrunc
    const c = sh(
      hashRunsCommand({
        device: dst,
        readBack: {
          kind: "concat",
          runs: [
            [0, 64 * K],
            [192 * K, 128 * K],
          ],
        },
      }),
    );
    expect(c.stdout.toString()).toBe(`${b2(Buffer.concat([a, b]))}  -\n`);
  });

  it("the direct path's proof: the hash of the whole record stream rebuilt from the device, as the source sent it", () => {
    const dst = join(dir, "dst-stream.img");
    writeFileSync(dst, Buffer.alloc(512 * K, 0xaa));
    const a = data.subarray(0, 64 * K);
    const b = data.subarray(192 * K, 320 * K);
    const stream = records(`d 0 ${64 * K}\n`, a, `z ${64 * K} ${32 * K}\n`, `d ${192 * K} ${128 * K}\n`, b, "e\n");
    const work = mkdtempSync(join(dir, "work-"));
    const command = receiveRecordsCommand({ device: dst, proof: "stream", workDir: work });
    expect(command).not.toMatch(/[\\\n]/); // a forced command: one line, no backslash
    const r = sh(command, stream);
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString()).toBe(`${b2(stream)}  -\nz\n`);
    // Only zero records (a fresh target that must hold zeroes) and nothing at all: still one hash line.
    const zerosOnly = records(`z 0 ${4 * K}\n`, "e\n");
    expect(sh(command, zerosOnly).stdout.toString()).toBe(`${b2(zerosOnly)}  -\nz\n`);
    expect(sh(command, records("e\n")).stdout.toString()).toBe(`${b2(records("e\n"))}  -\n`);
    expect(readdirSync(work)).toEqual([]); // its fifo and hash output, removed
    // A stream that ends early: no hash line at all, a failure.
    const short = sh(command, records(`d 0 ${4 * K}\n`, data.subarray(0, 2 * K)));
    expect(short.status).not.toBe(0);
    expect(short.stdout.toString()).toBe("");
  });

  it("proves with openssl's SHA-256 where the host has it, and the probe says so", () => {
    const dst = join(dir, "dst-sha.img");
    writeFileSync(dst, Buffer.alloc(64 * K));
    const a = data.subarray(0, 8 * K);
    const r = sh(receiveRecordsCommand({ device: dst, hash: "openssl-sha256" }), records(`d 0 ${8 * K}\n`, a, "e\n"));
    expect(r.status).toBe(0);
    const line = r.stdout.toString().trim();
    expect(HASH_TOOLS["openssl-sha256"].line.exec(line)?.[1]).toBe(createHash("sha256").update(a).digest("hex"));
    const verify = sh(
      hashRunsCommand({ device: dst, readBack: { kind: "concat", runs: [[0, 8 * K]] }, hash: "openssl-sha256" }),
    );
    expect(verify.stdout.toString().trim()).toBe(line);
    // This machine has openssl (the lab guests do not: they take b2sum).
    expect(sh(HASH_TOOL_PROBE_COMMAND).stdout.toString()).toBe("openssl-sha256\n");
    const b2sumOnly = mkdtempSync(join(dir, "path-"));
    symlinkSync(execFileSync("sh", ["-c", "command -v b2sum"], { encoding: "utf8" }).trim(), join(b2sumOnly, "b2sum"));
    expect(sh(`PATH=${b2sumOnly}; ${HASH_TOOL_PROBE_COMMAND}`).stdout.toString()).toBe("b2sum\n");
    expect(sh(`PATH=/nonexistent; ${HASH_TOOL_PROBE_COMMAND}`).stdout.toString()).toBe("none\n");
  });

  it("fails without a proof when the stream ends before its end record or a record is malformed", () => {
    const dst = join(dir, "dst2.img");
    writeFileSync(dst, Buffer.alloc(64 * K));
    for (const input of [
      records(`d 0 ${4 * K}\n`, data.subarray(0, 4 * K)),
      records(`d 0 ${4 * K}\n`, data.subarray(0, 2 * K)),
      records("d 0 $(touch /tmp/x)\n", "e\n"),
      records("q 0 512\n", "e\n"),
      records("d 0 0\n", "e\n"),
    ]) {
      const r = sh(receiveRecordsCommand({ device: dst }), input);
      expect(r.status).not.toBe(0);
      expect(r.stdout.length).toBe(0);
    }
  });

  it("fails without output when the device is missing, and never creates it", () => {
    const missing = join(dir, "missing.img");
    const r = sh(receiveRecordsCommand({ device: missing }), records("d 0 512\n", Buffer.alloc(512), "e\n"));
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
      expect(() => readRunsCommand({ device, runs: [[0, 512]] })).toThrow(/invalid/);
    }
    for (const run of [
      [1, 512],
      [0, 100],
      [0.5, 512],
      [-512, 512],
      [0, 0],
    ] as const) {
      expect(() => readRunsCommand({ device: src, runs: [run] })).toThrow(/invalid/);
    }
    expect(() => readRunsCommand({ device: src, runs: [] })).toThrow(/invalid/);
    execFileSync("/bin/sh", ["-c", "true"]);
    expect(existsSync(marker)).toBe(false);
  });
});

describe("zero detection templates", () => {
  it("flags all-zero blocks, treats a short last block as data; zero records write zeroes", async () => {
    const { zeroScanCommand } = await import("../src/transfer-commands.ts");
    const f = join(dir, "zscan.img");
    const buf = Buffer.alloc(5 * 64 * K + 512);
    buf[64 * K + 7] = 1; // block 1 has one non-zero byte
    buf.fill(9, 4 * 64 * K, 4 * 64 * K + 100); // block 4
    writeFileSync(f, buf);
    const r = sh(zeroScanCommand({ device: f, span: [0, buf.length], blockBytes: 64 * K }));
    expect(r.stdout.toString().trim().split("\n")).toEqual(["z", "d", "z", "z", "d", "d"]);
    const w = sh(receiveRecordsCommand({ device: f }), records(`z ${64 * K} ${64 * K}\n`, "e\n"));
    expect(w.status).toBe(0);
    expect(w.stdout.toString()).toBe("z\n");
    expect(
      readFileSync(f)
        .subarray(64 * K, 128 * K)
        .every((x) => x === 0),
    ).toBe(true);
  });
});

/** A loop device over a temp file (root only), to see reads reach a real block device; null where unavailable. */
function loopDevice(): { dev: string; stat: string; detach(): void } | null {
  if (process.getuid?.() !== 0 || !existsSync("/dev/loop-control")) return null;
  const file = join(dir, "loop.img");
  writeFileSync(file, randomBytes(4 << 20));
  const r = spawnSync("losetup", ["-f", "--show", file]);
  const dev = r.stdout?.toString().trim();
  if (r.status !== 0 || !dev?.startsWith("/dev/loop")) return null;
  return {
    dev,
    stat: `/sys/block/${dev.slice("/dev/".length)}/stat`,
    detach: () => spawnSync("losetup", ["-d", dev]),
  };
}

describe("page-cache drop", () => {
  it("runs on a file (fsyncing first when asked), fails on a missing device without creating it", () => {
    const f = join(dir, "drop.img");
    writeFileSync(f, randomBytes(64 * K));
    expect(sh(dropCacheCommand({ device: f })).status).toBe(0);
    const withSync = dropCacheCommand({ device: f, fsyncFirst: true });
    expect(withSync).toContain("conv=notrunc,nocreat,fsync");
    expect(sh(withSync).status).toBe(0);
    const missing = join(dir, "missing-drop.img");
    const r = sh(dropCacheCommand({ device: missing, fsyncFirst: true }));
    expect(r.status).not.toBe(0);
    expect(existsSync(missing)).toBe(false);
    for (const device of ["/tmp/x;reboot", "rel/path", "/tmp/$(id)"])
      expect(() => dropCacheCommand({ device })).toThrow(/invalid/);
  });

  it("cued: runs only on its cue line (drop, or fsync then drop), fails on anything else or no cue", () => {
    const f = join(dir, "cued.img");
    writeFileSync(f, randomBytes(64 * K));
    const cued = cuedDropCacheCommand({ device: f });
    expect(sh(cued, Buffer.from("drop\n")).status).toBe(0);
    expect(sh(cued, Buffer.from("fsync-drop\n")).status).toBe(0);
    for (const input of ["", "drop; reboot\n", "DROP\n"]) {
      const r = sh(cued, Buffer.from(input));
      expect(r.status).toBe(65);
      expect(r.stderr.toString()).toContain("bad cue");
    }
    const missing = join(dir, "missing-cued.img");
    expect(sh(cuedDropCacheCommand({ device: missing }), Buffer.from("fsync-drop\n")).status).not.toBe(0);
    expect(existsSync(missing)).toBe(false);
    expect(() => cuedDropCacheCommand({ device: "/tmp/$(id)" })).toThrow(/invalid/);
  });

  const loop = loopDevice();
  afterAll(() => loop?.detach());
  it.skipIf(!loop)(
    "on a block device kept open elsewhere (as the SFTP handle keeps it), the next read comes from the device",
    () => {
      if (!loop) return;
      const read = `dd if=${loop.dev} bs=64k skip=10 count=1 of=/dev/null status=none`;
      const sectors = `awk '{print $3}' ${loop.stat}`;
      // fd 9 holds the device open: the kernel drops a block device's cache on its last close anyway.
      const script = [
        `exec 9<${loop.dev}`,
        read,
        `a=$(${sectors})`,
        read,
        `b=$(${sectors})`,
        dropCacheCommand({ device: loop.dev }),
        read,
        `c=$(${sectors})`,
        `printf 'new data' | dd of=${loop.dev} bs=8 seek=4096 conv=notrunc status=none`, // buffered write
        dropCacheCommand({ device: loop.dev, fsyncFirst: true }),
        `d=$(${sectors})`,
        `got=$(dd if=${loop.dev} bs=8 skip=4096 count=1 status=none)`,
        `e=$(${sectors})`,
        'echo "$a $b $c $d $e $got"',
      ].join("\n");
      const r = sh(script);
      expect(r.stderr.toString()).toBe("");
      const [a, b, c, d, e, ...got] = r.stdout.toString().trim().split(" ");
      expect(b).toBe(a); // the second read came from the cache
      expect(Number(c)).toBeGreaterThan(Number(b)); // after the drop, from the device
      expect(Number(e)).toBeGreaterThan(Number(d)); // the written bytes too, once fsynced and dropped
      expect(got.join(" ")).toBe("new data");
    },
  );
});

// Runs the real `blockferry changes` CLI (tsx apps/cli/src/main.ts) on stores written in the kernel layout.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCowStore } from "./helpers/cow-writer.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const TSX = join(ROOT, "node_modules/.bin/tsx");
const MAIN = join(ROOT, "apps/cli/src/main.ts");

function cli(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const p = spawn(TSX, [MAIN, "changes", ...args], { cwd: ROOT });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => {
      stdout += d;
    });
    p.stderr.on("data", (d) => {
      stderr += d;
    });
    p.on("error", fail);
    p.on("close", (code) => done({ code, stdout, stderr }));
    p.stdin.end(stdin ?? "");
  });
}

const THIN = `<superblock uuid="" time="1" transaction="2" data_block_size="128" nr_data_blocks="100">
  <diff left="1" right="2">
    <different begin="3" length="2"/>
    <left_only begin="9" length="1"/>
  </diff>
</superblock>
`;

describe("blockferry changes", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "changes-cli-"));
    await writeFile(join(dir, "good.cow"), buildCowStore({ chunkBytes: 65536, oldChunks: [4, 5, 6, 20] }).bytes);
    await writeFile(join(dir, "invalid.cow"), buildCowStore({ chunkBytes: 4096, oldChunks: [1], valid: 0 }).bytes);
    await writeFile(join(dir, "delta.xml"), THIN);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true });
  });

  it("cow --json prints chunk size and extents", async () => {
    const r = await cli(["cow", join(dir, "good.cow"), "--json"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(r.stdout)).toEqual({
      chunkBytes: 65536,
      valid: true,
      extents: [
        [4, 3],
        [20, 1],
      ],
    });
  });

  it("cow without --json prints a summary; with the right expectations it passes, wrong ones fail", async () => {
    const r = await cli(["cow", join(dir, "good.cow"), "--chunk-bytes", "65536", "--expect-exceptions", "4"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/exceptions\s+4 \(256\.0 KiB/);
    const wrong = await cli(["cow", join(dir, "good.cow"), "--expect-exceptions", "5"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/COW_COUNT_MISMATCH/);
  });

  it("an invalid snapshot, a missing file and bad usage fail loudly", async () => {
    const inv = await cli(["cow", join(dir, "invalid.cow"), "--json"]);
    expect(inv.code).toBe(1);
    expect(inv.stdout).toBe("");
    expect(inv.stderr).toMatch(/invalid \(valid=0\).*COW_INVALID_SNAPSHOT/);
    const missing = await cli(["cow", join(dir, "nope.cow")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ENOENT/);
    const usage = await cli(["sideways", "x"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/usage:/);
  });

  it("thin reads a file or stdin", async () => {
    const expected = { chunkBytes: 65536, data: [[3, 2]], discard: [[9, 1]] };
    const fromFile = await cli(["thin", join(dir, "delta.xml"), "--json"]);
    expect(JSON.parse(fromFile.stdout)).toEqual(expected);
    const fromStdin = await cli(["thin", "-", "--json"], THIN);
    expect(JSON.parse(fromStdin.stdout)).toEqual(expected);
    const summary = await cli(["thin", "-"], THIN);
    expect(summary.stdout).toMatch(/changed\s+2 blocks in 1 runs/);
    const bad = await cli(["thin", "-", "--json"], "thin_delta: bad superblock\n");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/THIN_DELTA_SYNTAX/);
  });
});

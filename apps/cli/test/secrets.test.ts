import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openDb, openKeyring } from "@blockferry/server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run } from "../src/commands/secrets.ts";

const root = resolve(import.meta.dirname, "../../..");
let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "bf-cli-secrets-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("blockferry secrets", () => {
  it("rotate replaces secret.key of a data dir (run through the real CLI entry point)", () => {
    openDb(join(dataDir, "blockferry.db")).$client.close();
    const cli = (...args: string[]) =>
      spawnSync("node_modules/.bin/tsx", ["apps/cli/src/main.ts", ...args], { cwd: root, encoding: "utf8", env: {} });
    openKeyring({ dataDir }); // as the server's first start does
    const before = readFileSync(join(dataDir, "secret.key"));
    const ok = cli("secrets", "rotate", "--data-dir", dataDir);
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/re-encrypted 0 stored key\(s\) under key [0-9a-f]{16} \(was [0-9a-f]{16}\)/);
    expect(readFileSync(join(dataDir, "secret.key")).equals(before)).toBe(false);
  });

  it("refuses, and says how to rotate, when the key comes from BLOCKFERRY_SECRET_KEY", async () => {
    openDb(join(dataDir, "blockferry.db")).$client.close();
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const code = await run(["rotate", "--data-dir", dataDir], {
      BLOCKFERRY_SECRET_KEY: Buffer.alloc(32, 7).toString("base64"),
    });
    expect(code).toBe(1);
    expect(String(err.mock.calls[0]?.[0])).toContain("BLOCKFERRY_SECRET_KEY_NEW");
  });

  it("says when there is no secret.key yet", async () => {
    openDb(join(dataDir, "blockferry.db")).$client.close();
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(await run(["rotate", "--data-dir", dataDir], {})).toBe(1);
    expect(String(err.mock.calls[0]?.[0])).toContain("secret.key: nothing to rotate");
  });

  it("refuses unknown subcommands with usage", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(await run(["spin"], {})).toBe(2);
    expect(String(err.mock.calls[0]?.[0])).toContain("blockferry secrets rotate");
  });
});

import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_PORT, loadConfig } from "../../src/config.ts";

describe("loadConfig", () => {
  it("has safe defaults: loopback only, fixed port, SQLite under .data", () => {
    const c = loadConfig([], {});
    expect(c).toMatchObject({ host: "127.0.0.1", port: DEFAULT_PORT, logLevel: "info" });
    expect(c.dbFile).toBe(resolve(".data/blockferry.db"));
  });

  it("takes flags over environment", () => {
    const c = loadConfig(["--port", "9000", "--data-dir=/tmp/x"], { BLOCKFERRY_PORT: "8000" });
    expect(c.port).toBe(9000);
    expect(c.dbFile).toBe("/tmp/x/blockferry.db");
  });

  it.each([
    [[], { BLOCKFERRY_PORT: "http" }, "BLOCKFERRY_PORT"],
    [["--port", "70000"], {}, "--port"],
    [["--log-level", "loud"], {}, "--log-level"],
    [[], { BLOCKFERRY_HOST: "a b" }, "BLOCKFERRY_HOST"],
    [["--bogus", "1"], {}, "--bogus"],
    [["--data-dir"], {}, "--data-dir"],
  ])("names the bad setting: %j %j", (argv, env, setting) => {
    expect(() => loadConfig(argv, env)).toThrow(ConfigError);
    expect(() => loadConfig(argv, env)).toThrow(setting);
  });

  it("stops `blockferry serve` at boot with a message naming the setting", () => {
    const root = resolve(import.meta.dirname, "../../../..");
    const r = spawnSync("node_modules/.bin/tsx", ["apps/cli/src/main.ts", "serve", "--port", "nope"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--port");
  });
});

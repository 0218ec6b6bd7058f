// The README's quick start runs `pnpm start`: the CLI bundled by esbuild (apps/cli/build.mjs), then
// `node apps/cli/dist/main.js serve`. A native addon the bundle tried to inline broke that command while every
// other test (which runs the sources) passed; this one builds and starts the bundle exactly as `pnpm start` does.
// Among the browser tests: like them it serves the dashboard that `pnpm test` builds before the tests run.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../test-support/loopback-sshd.ts";
import { repoRoot } from "../lab/paths.ts";

const CLI = join(repoRoot, "apps/cli");

describe("the bundled CLI that pnpm start runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "bf-cli-bundle-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("builds, and serves the dashboard and API on an embedded database", async () => {
    await promisify(execFile)(process.execPath, ["build.mjs"], { cwd: CLI });
    const port = await freePort();
    const server = spawn(
      process.execPath,
      [join(CLI, "dist/main.js"), "serve", "--port", String(port), "--data-dir", join(dir, "data")],
      // No BLOCKFERRY_* setting of the machine running the tests: the command line is the whole configuration.
      { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: dir }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    server.stdout.on("data", (d: Buffer) => (output += d.toString()));
    server.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((ok) => server.once("exit", ok));
    try {
      // Waits on the server saying it listens (or exiting), not on the clock.
      const started = await Promise.race([
        new Promise<true>((ok) =>
          server.stdout.on("data", () => /Blockferry dashboard: http/.test(output) && ok(true)),
        ),
        exited.then((code) => new Error(`serve exited ${code}: ${output}`)),
      ]);
      if (started instanceof Error) throw started;
      const health = await fetch(`http://127.0.0.1:${port}/api/health`);
      expect(health.status).toBe(200);
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="root">');
    } finally {
      server.kill("SIGTERM");
      await exited;
    }
  });
});

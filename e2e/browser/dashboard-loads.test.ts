import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadConfig, type RunningServer, startServer } from "@blockferry/server";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

export const ARTIFACTS = resolve(import.meta.dirname, "../../test-results");

describe("dashboard", () => {
  let server: RunningServer;
  beforeAll(async () => {
    const config = loadConfig(["--port", "0", "--data-dir", join(tmpdir(), `bf-browser-${process.pid}`)], {
      BLOCKFERRY_LOG_LEVEL: "warn",
    });
    server = await startServer(config);
  });
  afterAll(async () => server?.close());

  it("loads in headless Chromium and talks to the API", async () => {
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${server.url}/`);
      await expect.poll(() => page.getByRole("status").textContent()).toContain("ok");
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Blockferry");
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "dashboard-loads.png") });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

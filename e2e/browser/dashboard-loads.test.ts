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
      // The server's Content-Security-Policy: anything it blocks is reported on the console and as an event.
      const violations: string[] = [];
      page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.exposeFunction("reportCspViolation", (v: string) => violations.push(v));
      await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          (window as unknown as { reportCspViolation(v: string): void }).reportCspViolation(
            `${e.violatedDirective} blocked ${e.blockedURI}`,
          );
        });
      });
      const response = await page.goto(`${server.url}/`);
      expect(response?.headers()["content-security-policy"]).toContain("default-src 'self'");
      await expect.poll(() => page.getByRole("status").textContent()).toContain("ok");
      expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Blockferry");
      // The event stream's websocket (same origin, ws:) is allowed by connect-src 'self'.
      const socket = await page.evaluate(
        () =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/api/events/stream`);
            ws.onopen = () => {
              ws.close();
              resolve("open");
            };
            ws.onerror = () => resolve("error");
          }),
      );
      expect(socket).toBe("open");
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "dashboard-loads.png") });
      expect(errors).toEqual([]);
      expect(violations).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});

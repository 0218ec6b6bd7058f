import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DashboardServer,
  laptopPage,
  launchChromium,
  loginAs,
  screenshot,
  startDashboardServer,
} from "./dashboard-support.ts";

describe("dashboard", () => {
  let server: DashboardServer;
  let browser: Browser;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startDashboardServer("loads"), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("loads in headless Chromium and talks to the API", async () => {
    const { page, errors } = await laptopPage(browser);
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
    await loginAs(page, server);
    await expect.poll(() => page.locator(".topbar .status").textContent()).toContain("ok");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Blockferry");
    await page.getByRole("heading", { name: "Migrations" }).waitFor();
    // The event stream's websocket (same origin, ws:, with the session cookie) is allowed by connect-src 'self'.
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
    await screenshot(page, "dashboard-loads");
    expect(errors).toEqual([]);
    expect(violations).toEqual([]);
  });
});

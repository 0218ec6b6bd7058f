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
    await loginAs(page, server);
    await expect.poll(() => page.locator(".topbar .status").textContent()).toContain("ok");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Blockferry");
    await page.getByRole("heading", { name: "Migrations" }).waitFor();
    await screenshot(page, "dashboard-loads");
    expect(errors).toEqual([]);
  });
});

// Hosts page against a real server and a real sshd: add by pasting a key, see the presented fingerprint, trust it,
// browse the inventory, then swap the host key and see the host blocked with a banner.
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Fleet,
  laptopPage,
  launchChromium,
  loginAs,
  screenshot,
  startDashboardServer,
  startFleet,
} from "./dashboard-support.ts";

describe("dashboard: hosts", () => {
  let server: Awaited<ReturnType<typeof startDashboardServer>>;
  let fleet: Fleet;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    [server, fleet, browser] = await Promise.all([startDashboardServer("hosts"), startFleet(), launchChromium()]);
    ({ page, errors } = await laptopPage(browser));
    await loginAs(page, server);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await fleet?.close();
  });

  it("adds a host with a pasted key, shows the presented fingerprint and trusts it after confirmation", async () => {
    await page.goto(`${server.url}/hosts`);
    await expect.poll(() => page.getByText("No hosts yet").count(), { timeout: 15_000 }).toBe(1);
    const form = page.getByRole("form", { name: "Add host" });
    await form.getByLabel("Name").fill("hv-a");
    await form.getByLabel("Address", { exact: true }).fill(fleet.sshd.host);
    await form.getByLabel("SSH port").fill(String(fleet.sshd.port));
    await form.getByLabel("Paste a key").check();
    await form.getByLabel("Key (OpenSSH or PEM)").fill(fleet.sshd.privateKey);
    await form.getByRole("button", { name: "Add and fetch host key" }).click();

    const dialog = page.getByRole("dialog", { name: "Trust hv-a?" });
    await dialog.waitFor();
    expect(await dialog.getByTestId("presented-fingerprint").textContent()).toBe(fleet.sshd.hostKeyFingerprint);
    await screenshot(page, "dashboard-hosts-trust-dialog");
    await dialog.getByRole("button", { name: "Trust this key" }).click();
    await dialog.waitFor({ state: "detached" });

    const row = page.getByTestId("host-row-hv-a");
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toContain("trusted");
    expect(await row.textContent()).toContain(fleet.sshd.hostKeyFingerprint);
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toMatch(/reachable, \d+ ms/);
    await screenshot(page, "dashboard-hosts-trusted");
  });

  it("browses the host's inventory: VGs, LVs filtered by kind, thin pools, VMs, tools", async () => {
    await page.getByRole("link", { name: "Inventory" }).click();
    await page.getByRole("heading", { name: "hv-a" }).waitFor();
    const vgs = page.getByRole("table", { name: "Volume groups" });
    await vgs.waitFor({ timeout: 15_000 });
    expect(await vgs.getByRole("row").count()).toBe(3); // header + vg0 + vg1
    const lvs = page.getByRole("table", { name: "Logical volumes" });
    expect(await lvs.textContent()).toContain("vg0/web1-disk");
    await page.getByLabel("Kind").selectOption("thin-pool");
    await expect.poll(() => lvs.getByRole("row").count(), { timeout: 15_000 }).toBe(2);
    expect(await lvs.textContent()).toContain("vg1/pool1");
    expect(await page.getByRole("table", { name: "Thin pools" }).textContent()).toContain("12.5%");
    expect(await page.getByRole("table", { name: "Virtual machines" }).textContent()).toContain("/dev/vg0/web1-disk");
    expect(await page.locator(".tools").textContent()).toContain("2.03.16");
    await page.getByLabel("Kind").selectOption("");
    await screenshot(page, "dashboard-host-inventory");
  });

  it("works from the keyboard: skip link, main navigation, and the wizard's radio cards", async () => {
    await page.goto(`${server.url}/jobs`);
    await page.getByRole("heading", { name: "Migrations" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Skip to content");
    await page.keyboard.press("Tab"); // Migrations
    await page.keyboard.press("Tab"); // New migration
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "New migration" }).waitFor();
    // Into the host cards: Space picks the focused one; then a VM the same way, and Next becomes available.
    await page.getByRole("radio", { name: /hv-a/ }).focus();
    await page.keyboard.press("Space");
    expect(await page.getByRole("radio", { name: /hv-a/ }).isChecked()).toBe(true);
    const disk = page.getByRole("radio", { name: /^VM web1/ });
    await disk.focus({ timeout: 20_000 });
    await page.keyboard.press("Space");
    expect(await disk.isChecked()).toBe(true);
    expect(await page.getByRole("button", { name: /^Next:/ }).isEnabled()).toBe(true);
  });

  it("blocks a host whose key changed and says so in a banner; the new key can be reviewed", async () => {
    await fleet.sshd.restart({ newHostKey: true });
    // The next health check meets the new key.
    await page.goto(`${server.url}/hosts`);
    const banner = page.getByRole("alert").filter({ hasText: "Host key changed" });
    await expect.poll(() => banner.count(), { timeout: 20_000, interval: 500 }).toBe(1);
    expect(await banner.textContent()).toContain("hv-a");
    const row = page.getByTestId("host-row-hv-a");
    expect(await row.textContent()).toContain("KEY CHANGED");
    await row.getByRole("button", { name: "Review key" }).click();
    const dialog = page.getByRole("dialog", { name: "Replace the pinned key of hv-a?" });
    await dialog.waitFor();
    expect(await dialog.getByTestId("presented-fingerprint").textContent()).toBe(fleet.sshd.hostKeyFingerprint);
    await screenshot(page, "dashboard-hosts-key-changed");
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    expect(errors).toEqual([]);
  });
});

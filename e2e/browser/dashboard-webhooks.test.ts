// The Webhooks page against a real server: an admin adds a webhook (the secret never comes back), sees its
// delivery log fill in as a real receiver on loopback answers, and deletes it; a viewer gets no link to it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DashboardServer,
  laptopPage,
  launchChromium,
  loginAs,
  screenshot,
  startDashboardServer,
} from "./dashboard-support.ts";

const SECRET = "browser-test-signing-secret";

describe("dashboard: webhooks", () => {
  let server: DashboardServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let receiver: Server;
  let receiverUrl: string;
  let received = 0;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        received++;
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    [server, browser] = await Promise.all([startDashboardServer("webhooks"), launchChromium()]);
    ({ page, errors } = await laptopPage(browser));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  });

  it("adds a webhook, shows its deliveries, and deletes it", async () => {
    await loginAs(page, server, "admin", "/webhooks");
    await page.getByRole("heading", { name: "Webhooks" }).waitFor();
    const form = page.getByRole("form", { name: "Add webhook" });
    await form.getByLabel("URL").fill(receiverUrl);
    await form.getByLabel("Signing secret").fill(SECRET);
    await form.getByLabel("ready for cutover").uncheck();
    await form.getByRole("button", { name: "Add webhook" }).click();
    const table = page.getByRole("table", { name: "Webhooks" });
    await table.getByRole("rowheader", { name: receiverUrl }).waitFor();
    expect(await table.textContent()).toContain("cutover started, succeeded, failed, cancelled, rolled back");
    const listed = await (await server.api("/api/webhooks")).text();
    expect(listed).not.toContain(SECRET);

    // A migration fails (as the executor records it): one delivery, answered 204.
    const jobId = server.runtime.db.$client
      .prepare(
        `insert into hosts (name, address, status) values ('a', '127.0.0.1', 'trusted'), ('b', '127.0.0.1', 'trusted')`,
      )
      .run().lastInsertRowid;
    const job = server.runtime.db.$client
      .prepare(
        `insert into jobs (source_host_id, source_vg, source_lv, target_host_id, target_vg, target_lv, vm, options, state)
         values (?, 'vg0', 'vm1', ?, 'vg0', 'vm1', '{"controller":"none"}', '{}', 'failed')`,
      )
      .run(Number(jobId) - 1, Number(jobId)).lastInsertRowid;
    server.runtime.hub.append(Number(job), "job.state", { state: "failed", phase: "full_copy" });
    await expect.poll(() => received, { timeout: 10_000 }).toBe(1);

    await table.getByRole("button", { name: "Deliveries" }).click();
    const log = page.getByRole("table", { name: `Deliveries to ${receiverUrl}` });
    const row = log.getByRole("row").filter({ hasText: "failed" }).first();
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("HTTP 204");
    expect(await row.textContent()).toContain(`#${job}`);
    await screenshot(page, "dashboard-webhooks");

    await table.getByRole("button", { name: `Delete ${receiverUrl}` }).click();
    const dialog = page.getByRole("dialog", { name: `Delete the webhook to ${receiverUrl}?` });
    await dialog.getByRole("button", { name: "Delete webhook" }).click();
    await page.getByText("No webhooks.").waitFor();
    expect(errors).toEqual([]);
  });

  it("offers the page to admins only", async () => {
    const viewerPage = (await laptopPage(browser)).page;
    await loginAs(viewerPage, server, "viewer");
    const nav = viewerPage.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "Migrations" }).waitFor();
    expect(await nav.getByRole("link", { name: "Webhooks" }).count()).toBe(0);
    await viewerPage.goto(`${server.url}/webhooks`);
    await viewerPage.getByRole("heading", { name: "Not available to your role" }).waitFor();
    await viewerPage.close();
  });
});

// Access control in the browser against a real server: first-run setup from the printed link, logging out and in,
// what a viewer (and an operator) sees of the same migrations and hosts, and an expired session that lands on the
// login page and, after logging in again, back on the page the user was on. Accounts besides the first admin are
// created offline through the server's runtime; every login goes through the real form.
import type { Host, Migration } from "@blockferry/contracts";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  ADMIN,
  type DashboardServer,
  laptopPage,
  launchChromium,
  logInThroughForm,
  loginAs,
  screenshot,
  startDashboardServer,
  startTwoHostDashboard,
  type TwoHostDashboard,
} from "./dashboard-support.ts";

/** The names of every button on the page, in order. */
const buttonNames = (page: Page) => page.getByRole("button").allTextContents();
const path = (page: Page) => new URL(page.url()).pathname;

describe("dashboard: first-run setup, login and logout", () => {
  let server: DashboardServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    // No admin: the server waits for the first one to be created with its setup token.
    [server, browser] = await Promise.all([startDashboardServer("access-setup", { firstRun: true }), launchChromium()]);
    ({ page, errors } = await laptopPage(browser));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("creates the first admin from the printed setup link and lands on the dashboard", async () => {
    const token = server.runtime.auth.firstRun.token();
    expect(token).toBeTruthy();
    // Any page while no account exists leads to the setup page.
    await page.goto(`${server.url}/hosts`);
    await page.getByRole("heading", { name: "Create the first admin" }).waitFor();
    expect(path(page)).toBe("/setup");

    await page.goto(`${server.url}/setup#token=${token}`);
    const form = page.locator("form").filter({ has: page.getByRole("heading", { name: "Create the first admin" }) });
    await form.getByText("Setup token taken from the link").waitFor();
    await form.getByLabel("Username").fill("first-admin");
    await form.getByLabel("Password", { exact: true }).fill("short");
    await form.getByLabel("Confirm password").fill("short");
    await form.getByRole("button", { name: "Create admin and log in" }).click();
    await form.getByRole("alert").filter({ hasText: "at least 10 characters" }).waitFor();
    await form.getByLabel("Password", { exact: true }).fill("first admin passphrase");
    await form.getByLabel("Confirm password").fill("first admin passphrase");
    await screenshot(page, "dashboard-access-setup");
    await form.getByRole("button", { name: "Create admin and log in" }).click();

    await page.getByTestId("current-user").filter({ hasText: "first-admin" }).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("current-user").textContent()).toContain("admin");
    await page.getByRole("heading", { name: "Migrations" }).waitFor();
    expect(path(page)).toBe("/jobs");
    for (const link of ["Users", "API tokens", "Audit", "New migration"])
      expect(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: link }).count()).toBe(1);
    expect(server.runtime.auth.firstRun.needed()).toBe(false);
    await screenshot(page, "dashboard-access-first-admin");
  });

  it("logs out to the login page, refuses a wrong password, and logs in again", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Log in" }).waitFor();
    expect(path(page)).toBe("/login");
    expect(await page.getByTestId("current-user").count()).toBe(0);
    // The cookie is gone on the server's side too.
    expect((await page.request.get(`${server.url}/api/session`)).status()).toBe(401);

    const form = page.locator("form").filter({ has: page.getByRole("heading", { name: "Log in" }) });
    await form.getByLabel("Username").fill("first-admin");
    await form.getByLabel("Password").fill("not the passphrase");
    await form.getByRole("button", { name: "Log in" }).click();
    await form.getByRole("alert").filter({ hasText: "wrong username or password" }).waitFor();
    await screenshot(page, "dashboard-access-login-refused");

    await logInThroughForm(page, "first-admin", "first admin passphrase");
    await page.getByRole("heading", { name: "Migrations" }).waitFor();
    expect(path(page)).toBe("/jobs");
    expect(errors).toEqual([]);
  });
});

describe("dashboard: roles and session expiry", () => {
  let setup: TwoHostDashboard;
  let server: DashboardServer;
  let page: Page;
  let errors: string[];
  let src: Host;
  let job: Migration;

  beforeAll(async () => {
    setup = await startTwoHostDashboard("access-roles");
    ({ server, page, errors, src } = setup);
    // One migration, created through the API as the other tests do; it fails for real in its snapshot phase.
    const res = await server.api("/api/migrations", {
      method: "POST",
      body: JSON.stringify({
        source: { hostId: setup.src.id, vg: "vg0", lv: "data-1" },
        target: { hostId: setup.dst.id, vg: "vg1", lv: "data-1-copy" },
        vm: { controller: "none" },
      }),
    });
    expect(res.status).toBe(201);
    job = (await res.json()) as Migration;
    await vi.waitFor(
      async () => {
        const { state } = (await (await server.api(`/api/migrations/${job.id}`)).json()) as Migration;
        if (state !== "failed") throw new Error(`migration ${job.id} is ${state}`);
      },
      { timeout: 30_000, interval: 200 },
    );
  }, 90_000);
  afterAll(async () => {
    await setup?.close();
  }, 30_000);

  it("shows a viewer the migrations, job details and hosts without a single action button", async () => {
    const { page: viewer, errors: viewerErrors } = await laptopPage(setup.browser);
    try {
      const { username } = await loginAs(viewer, server, "viewer");
      expect(await viewer.getByTestId("current-user").textContent()).toBe(`${username} viewer`);
      const nav = viewer.getByRole("navigation", { name: "Main" });
      expect(await nav.getByRole("link").allTextContents()).toEqual(["Migrations", "Hosts"]);

      await viewer.getByTestId(`job-row-${job.id}`).waitFor();
      expect(await viewer.getByRole("link", { name: "New migration" }).count()).toBe(0);
      expect(await buttonNames(viewer)).toEqual(["Log out"]);
      await screenshot(viewer, "dashboard-access-viewer-jobs");

      await viewer.getByRole("link", { name: `Migration ${job.id}` }).click();
      await viewer.getByRole("heading", { name: `Migration #${job.id}:` }).waitFor();
      await viewer.getByRole("alert").filter({ hasText: "Failed in" }).waitFor();
      expect(await viewer.getByRole("group", { name: "Job actions" }).count()).toBe(0);
      expect(await buttonNames(viewer)).toEqual(["Log out"]);
      await screenshot(viewer, "dashboard-access-viewer-job");

      await viewer.goto(`${server.url}/hosts`);
      await expect
        .poll(() => viewer.getByTestId("host-row-hv-src").textContent(), { timeout: 20_000 })
        .toMatch(/reachable, \d+ ms/);
      expect(await viewer.getByRole("form", { name: "Add host" }).count()).toBe(0);
      expect(await buttonNames(viewer)).toEqual(["Log out"]);

      await viewer.goto(`${server.url}/hosts/${src.id}`);
      await viewer.getByRole("table", { name: "Volume groups" }).waitFor({ timeout: 15_000 });
      // Reading the inventory again is a read, not an action.
      expect(await buttonNames(viewer)).toEqual(["Log out", "Refresh inventory"]);

      // Pages that only do things explain themselves instead of failing with 403s.
      for (const p of ["/migrations/new", "/users", "/tokens", "/audit"]) {
        await viewer.goto(`${server.url}${p}`);
        await viewer.getByRole("heading", { name: "Not available to your role" }).waitFor();
      }
      expect(viewerErrors).toEqual([]);
    } finally {
      await viewer.context().close();
    }
  });

  it("shows an operator the migration actions but not the host administration", async () => {
    const { page: operator, errors: operatorErrors } = await laptopPage(setup.browser);
    try {
      await loginAs(operator, server, "operator", `/jobs/${job.id}`);
      // Logged in through /login?next=…: back on the job page.
      await operator.getByRole("heading", { name: `Migration #${job.id}:` }).waitFor();
      await operator.getByRole("button", { name: "Retry…" }).waitFor();
      const nav = operator.getByRole("navigation", { name: "Main" });
      expect(await nav.getByRole("link").allTextContents()).toEqual(["Migrations", "New migration", "Hosts"]);
      await operator.goto(`${server.url}/hosts`);
      await operator.getByTestId("host-row-hv-src").waitFor();
      expect(await operator.getByRole("form", { name: "Add host" }).count()).toBe(0);
      expect(await operator.getByRole("button", { name: /^Remove/ }).count()).toBe(0);
      expect(operatorErrors).toEqual([]);
    } finally {
      await operator.context().close();
    }
  });

  it("sends an expired session to the login page and back to the same page after logging in", async () => {
    await loginAs(page, server);
    await page.getByTestId(`job-row-${job.id}`).waitFor();
    // The session ends on the server while the page is open (as the idle or absolute expiry would end it).
    server.runtime.db.$client
      .prepare("update sessions set expires_at = 0 where user_id = (select id from users where username = ?)")
      .run(ADMIN.username);
    // The next request answers 401: here the one opening the job page.
    await page.getByRole("link", { name: `Migration ${job.id}` }).click();
    await page.getByRole("heading", { name: "Log in" }).waitFor({ timeout: 15_000 });
    expect(path(page)).toBe("/login");
    expect(new URL(page.url()).searchParams.get("next")).toBe(`/jobs/${job.id}`);
    await page.getByText("Your session has ended").waitFor();
    await screenshot(page, "dashboard-access-session-ended");

    await logInThroughForm(page, ADMIN.username, ADMIN.password);
    await page.getByRole("heading", { name: `Migration #${job.id}:` }).waitFor();
    expect(path(page)).toBe(`/jobs/${job.id}`);
    expect(errors).toEqual([]);
  });

  it("ignores a ?next= that leaves the dashboard", async () => {
    const { page: other } = await laptopPage(setup.browser);
    try {
      await other.goto(`${server.url}/login?next=${encodeURIComponent("//evil.example/steal")}`);
      await logInThroughForm(other, ADMIN.username, ADMIN.password);
      await other.getByRole("heading", { name: "Migrations" }).waitFor();
      expect(new URL(other.url()).origin).toBe(server.url);
      expect(path(other)).toBe("/jobs");
    } finally {
      await other.context().close();
    }
  });
});

describe("dashboard: admin pages", () => {
  let server: DashboardServer;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    [server, browser] = await Promise.all([startDashboardServer("access-admin"), launchChromium()]);
    ({ page, errors } = await laptopPage(browser));
    await loginAs(page, server, "admin", "/users");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("adds a user, and shows the server's refusal to demote the last admin", async () => {
    await page.getByRole("heading", { name: "Users" }).waitFor();
    const form = page.getByRole("form", { name: "Add user" });
    await form.getByLabel("Username").fill("olga");
    await form.getByLabel("Password").fill("olga's long passphrase");
    await form.getByLabel("Role").selectOption("operator");
    await form.getByRole("button", { name: "Add user" }).click();
    const row = page.getByTestId("user-row-olga");
    await row.waitFor();
    expect(await row.getByRole("combobox").inputValue()).toBe("operator");

    await page.getByTestId(`user-row-${ADMIN.username}`).getByRole("combobox").selectOption("viewer");
    const dialog = page.getByRole("dialog", { name: `Make ${ADMIN.username} a viewer?` });
    await dialog.getByRole("button", { name: "Change role" }).click();
    await dialog.getByRole("alert").filter({ hasText: "last admin" }).waitFor();
    await screenshot(page, "dashboard-access-users-last-admin");
    await dialog.getByRole("button", { name: "Back" }).click();
    await dialog.waitFor({ state: "detached" });
    expect(await page.getByTestId(`user-row-${ADMIN.username}`).getByRole("combobox").inputValue()).toBe("admin");
  });

  it("creates an API token whose secret is shown once, and revokes it", async () => {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "API tokens" }).click();
    const form = page.getByRole("form", { name: "Create API token" });
    await form.getByLabel("Name").fill("ci-deploy");
    await form.getByLabel("Role").selectOption("operator");
    await form.getByRole("button", { name: "Create token" }).click();
    const secret = page.getByTestId("new-token-secret");
    await secret.waitFor();
    const token = (await secret.textContent()) ?? "";
    expect(token).toMatch(/^bft_/);
    expect(await page.getByText("you will not see it again").count()).toBe(1);
    // The token works as a bearer token.
    const res = await fetch(`${server.url}/api/migrations`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const row = page.getByTestId("token-row-ci-deploy");
    await expect.poll(() => row.textContent()).toContain("never");
    expect(await row.textContent()).toContain(ADMIN.username);
    await screenshot(page, "dashboard-access-token-created");
    await page.getByRole("button", { name: "I have stored it" }).click();
    expect(await secret.count()).toBe(0);

    await row.getByRole("button", { name: "Revoke ci-deploy" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke ci-deploy?" });
    await dialog.getByRole("button", { name: "Revoke token" }).click();
    await row.waitFor({ state: "detached" });
    const after = await fetch(`${server.url}/api/migrations`, { headers: { authorization: `Bearer ${token}` } });
    expect(after.status).toBe(401);
  });

  it("lists who did what in the audit log, older entries on request", async () => {
    // More than one page (100 entries) of newer entries, so the ones this test made are on the second page.
    for (let i = 0; i < 120; i++)
      server.runtime.audit.record({ name: "filler", address: null }, "test.filler", `item:${i}`, { i });
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
    const table = page.getByRole("table", { name: "Audit log" });
    await table.waitFor();
    const rows = table.locator("tbody tr");
    expect(await rows.count()).toBe(100);
    expect(await rows.first().textContent()).toContain("item:119");
    await page.getByRole("button", { name: "Older entries" }).click();
    await page.getByText("The beginning of the log.").waitFor();
    expect(await rows.count()).toBeGreaterThan(120);
    const text = await table.textContent();
    for (const action of ["user.create", "token.create", "token.revoke", "login"]) expect(text).toContain(action);
    expect(text).toContain("127.0.0.1");
    await screenshot(page, "dashboard-access-audit");
    expect(errors).toEqual([]);
  });
});

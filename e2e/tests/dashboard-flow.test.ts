// The dashboard end to end against real LVM hypervisors (lab hosts), everything done by clicking in headless
// Chromium: add and trust both hosts, walk the wizard, watch progress move, cut over, see the job verified; then
// cancel a running job and retry a failed one from the browser. Screenshots go to test-results/.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type Migration, SESSION_COOKIE } from "@blockferry/contracts";
import { loadConfig, type RunningServer, startServer } from "@blockferry/server";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import { adminSession, adminToken, authHeaders } from "./support/auth.ts";
import { sh, sha256OnBoth } from "./support/lvm.ts";

const ARTIFACTS = resolve(import.meta.dirname, "../../test-results");
const { hosts } = labPair();
const [lab1, lab2] = hosts as [LabHost, LabHost];

describe("dashboard on lab hosts", () => {
  let server: RunningServer;
  let dataDir: string;
  let browser: Browser;
  let page: Page;
  /** The test's own API calls carry an admin token; the browser is logged in with a session cookie. */
  let token: string;
  const errors: string[] = [];

  const shot = async (name: string) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const job = async (id: number) =>
    (await (await fetch(`${server.url}/api/migrations/${id}`, { headers: authHeaders(token) })).json()) as Migration;
  const badge = () => page.locator(".head-right .badge").textContent();
  const jobIdFromUrl = () => Number(page.url().split("/").pop());
  const hostId = async (lab: LabHost) => {
    const { hosts } = (await (await fetch(`${server.url}/api/hosts`, { headers: authHeaders(token) })).json()) as {
      hosts: { id: number; name: string }[];
    };
    const h = hosts.find((x) => x.name === lab.name);
    if (!h) throw new Error(`${lab.name} was not added`);
    return h.id;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "bf-dashboard-flow-"));
    // lab1 is added by key file path: the server reads key files only from its key directory.
    const keyDir = dirname(lab1.privateKeyPath);
    const config = loadConfig(["--port", "0", "--data-dir", dataDir, "--key-dir", keyDir], {
      BLOCKFERRY_LOG_LEVEL: "warn",
    });
    server = await startServer(config, {
      runner: { pollMs: 200, leaseMs: 5000 },
      snapshotWatchMs: 1000,
    });
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    token = await adminToken(server.runtime.auth);
    const session = await adminSession(server.runtime.auth);
    await page
      .context()
      .addCookies([
        { name: SESSION_COOKIE, value: session.token, url: server.url, httpOnly: true, sameSite: "Strict" },
      ]);
    page.on("pageerror", (e) => errors.push(e.message));
    await sh(lab1, "lvremove -q -y vg0/web vg0/db vg0/stuck >/dev/null 2>&1; true");
    await sh(lab2, "lvremove -q -y vg0/web vg0/db vg0/stuck >/dev/null 2>&1; true");
    await sh(
      lab1,
      "lvcreate -q -y -L 32M -n web vg0 && dd if=/dev/urandom of=/dev/vg0/web bs=1M count=24 oflag=direct status=none",
    );
  });
  afterAll(async () => {
    await sh(lab1, "bf-workload stop >/dev/null 2>&1 || true").catch(() => "");
    await browser?.close();
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("adds both hosts, one by key file path and one by pasted key, and trusts the fingerprints they present", async () => {
    await page.goto(`${server.url}/hosts`);
    for (const [lab, how] of [
      [lab1, "file"],
      [lab2, "pasted"],
    ] as const) {
      const form = page.getByRole("form", { name: "Add host" });
      await form.getByLabel("Name").fill(lab.name);
      await form.getByLabel("Address", { exact: true }).fill(lab.address);
      await form.getByLabel("SSH port").fill(String(lab.port));
      if (how === "file") {
        await form.getByLabel("Key file on the server").check();
        await form.getByLabel("Key path").fill(lab.privateKeyPath);
      } else {
        await form.getByLabel("Paste a key").check();
        await form.getByLabel("Key (OpenSSH or PEM)").fill(lab.privateKey);
      }
      await form.getByRole("button", { name: "Add and fetch host key" }).click();
      const dialog = page.getByRole("dialog", { name: `Trust ${lab.name}?` });
      await dialog.waitFor({ timeout: 30_000 });
      expect(await dialog.getByTestId("presented-fingerprint").textContent()).toBe(lab.hostKeyFingerprintSha256);
      await dialog.getByRole("button", { name: "Trust this key" }).click();
      await dialog.waitFor({ state: "detached" });
      await expect
        .poll(() => page.getByTestId(`host-row-${lab.name}`).textContent(), { timeout: 30_000 })
        .toMatch(/reachable, \d+ ms/);
    }
    await shot("dashboard-flow-hosts");
  });

  it("walks the wizard, watches progress move, cuts over, and sees the job verified", async () => {
    await sh(lab1, "bf-workload start /dev/vg0/web 64");
    await page.getByRole("link", { name: "New migration" }).click();
    // One disk in at most three screens.
    const stepper = page.getByRole("navigation", { name: "Wizard steps" }).getByRole("button");
    expect(await stepper.allTextContents()).toEqual(["1 What", "2 Where", "3 Review"]);
    let screens = 1;
    const next = async () => {
      await page.getByRole("button", { name: /^Next:/ }).click();
      screens++;
    };
    await page.getByRole("radio", { name: new RegExp(lab1.name) }).check();
    await page.getByRole("radio", { name: /^Logical volumes/ }).check({ timeout: 60_000 });
    await page.getByRole("checkbox", { name: /^vg0\/web/ }).check({ timeout: 60_000 });
    await shot("dashboard-flow-wizard-1-what");
    await next();
    // lab2 is the only other host and vg0 its only VG: both preselected; the name is the source's.
    const vg0 = page.getByRole("radio", { name: /^VG vg0/ });
    await vg0.waitFor({ timeout: 60_000 });
    const destination = page.getByRole("group", { name: "Destination host" });
    expect(await destination.getByRole("radio", { name: new RegExp(lab2.name) }).isChecked()).toBe(true);
    expect(await vg0.isChecked()).toBe(true);
    expect(await page.getByLabel("Name of the new LV").inputValue()).toBe("web");
    expect(await page.getByTestId("name-conflict").count()).toBe(0);
    // Plain lab hosts have no virsh: libvirt is not offered, and the card says why. VM hosts (a run with the
    // libvirt VM tests) offer it; this LV belongs to no domain, so the test picks commands either way.
    const libvirt = page.getByRole("radio", { name: /libvirt/ });
    if (inject("labVmHosts")) expect(await libvirt.isDisabled()).toBe(false);
    else {
      expect(await libvirt.isDisabled()).toBe(true);
      expect(await page.locator("label.choice", { hasText: "libvirt" }).textContent()).toContain(
        `not available: virsh is not installed on ${lab1.name} or ${lab2.name}`,
      );
    }
    await page.getByRole("radio", { name: /Commands/ }).check();
    await page.getByLabel("Stop command on the source").fill("bf-workload stop");
    await page.getByLabel(/Start command on the destination/).fill("echo {device} > /run/vm-started-on-target");
    await page.getByLabel(/Restart command on the source/).fill("bf-workload start /dev/vg0/web 64");
    await page.getByRole("radio", { name: /Manual/ }).check();
    await page.getByLabel("Catch-up passes before cutover").fill("1");
    await shot("dashboard-flow-wizard-2-where");
    await next();
    // Review shows the commands exactly as they will run, {device} filled in and quoted.
    expect(await page.getByTestId("stop-commands").textContent()).toContain(`on ${lab1.name}: bf-workload stop`);
    expect(await page.getByTestId("start-commands").textContent()).toContain(
      `on ${lab2.name}: echo '/dev/vg0/web' > /run/vm-started-on-target`,
    );
    expect(await page.getByTestId("restart-commands").textContent()).toContain(
      `on ${lab1.name}: bf-workload start /dev/vg0/web 64`,
    );
    const checks = page.getByRole("list", { name: "Precheck results" });
    await checks.waitFor({ timeout: 60_000 });
    expect(await checks.locator("li.bad").allTextContents()).toEqual([]);
    expect(screens).toBe(3);
    await shot("dashboard-flow-review");
    await page.getByRole("button", { name: "Start migration" }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    const id = jobIdFromUrl();

    // Progress moves: the copied figure grows while the job runs.
    const progress = page.getByTestId("bytes-progress");
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          seen.add((await progress.textContent()) ?? "");
          return seen.size;
        },
        { timeout: 120_000, interval: 200 },
      )
      .toBeGreaterThanOrEqual(3);
    await page.locator(".chunk-map canvas").waitFor({ timeout: 60_000 });
    await shot("dashboard-flow-copying");

    await expect.poll(badge, { timeout: 240_000, interval: 500 }).toBe("waiting for cutover");
    expect((await sh(lab1, "bf-workload status")).startsWith("running")).toBe(true);
    await shot("dashboard-flow-waiting-cutover");
    await page.getByRole("button", { name: "Cut over…" }).click();
    const dialog = page.getByRole("dialog", { name: "Cut over now?" });
    await dialog.getByRole("button", { name: "Stop the VM and cut over" }).click();
    await expect.poll(badge, { timeout: 240_000, interval: 500 }).toBe("succeeded");
    expect(await page.getByTestId("outage").textContent()).not.toBe("–");
    expect(await page.locator(".step-done").count()).toBe(12);
    // The chunk map shows the whole volume verified.
    await expect
      .poll(() => page.locator(".chunk-map figcaption").textContent(), { timeout: 10_000 })
      .toContain("verified 100.0%");
    await shot("dashboard-flow-succeeded");

    const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/web");
    expect(target).toBe(source);
    expect((await sh(lab2, "cat /run/vm-started-on-target")).trim()).toBe("/dev/vg0/web");
    expect((await job(id)).outageMs).not.toBeNull();

    await page.getByRole("link", { name: "Migrations", exact: true }).click();
    const row = page.getByTestId(`job-row-${id}`);
    await row.waitFor();
    expect(await row.textContent()).toContain("verified");
    await shot("dashboard-flow-jobs");
  }, 600_000);

  it("cancels a running migration from the browser, leaving no snapshot behind", async () => {
    await sh(
      lab1,
      "lvcreate -q -y -L 8M -n db vg0 && dd if=/dev/urandom of=/dev/vg0/db bs=1M count=8 oflag=direct status=none",
    );
    const res = await fetch(`${server.url}/api/migrations`, {
      method: "POST",
      headers: authHeaders(token, "POST"),
      // 256 KiB/s: the copy takes half a minute, time enough to cancel it in the middle.
      body: JSON.stringify({
        source: { hostId: await hostId(lab1), vg: "vg0", lv: "db" },
        target: { hostId: await hostId(lab2), vg: "vg0" },
        vm: { controller: "none" },
        options: { bandwidthLimitBytesPerSecond: 256 * 1024 },
      }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as Migration;
    await page.goto(`${server.url}/jobs/${id}`);
    await expect.poll(async () => (await job(id)).phase, { timeout: 120_000, interval: 500 }).toBe("full_copy");
    await page.getByRole("button", { name: "Cancel…" }).click();
    await page
      .getByRole("dialog", { name: "Cancel this migration?" })
      .getByRole("button", { name: "Cancel migration" })
      .click();
    await expect.poll(badge, { timeout: 120_000, interval: 500 }).toBe("cancelled");
    await shot("dashboard-flow-cancelled");
    expect(await sh(lab1, "lvs --noheadings -o lv_name,lv_tags vg0")).not.toContain(`bf-${id}-s`);
  });

  it("retries a failed migration from the browser once its cause is fixed", async () => {
    await sh(lab1, "rm -f /run/allow-stop; lvcreate -q -y -L 8M -n stuck vg0");
    const res = await fetch(`${server.url}/api/migrations`, {
      method: "POST",
      headers: authHeaders(token, "POST"),
      body: JSON.stringify({
        source: { hostId: await hostId(lab1), vg: "vg0", lv: "stuck" },
        target: { hostId: await hostId(lab2), vg: "vg0" },
        // Stopping the "VM" fails until /run/allow-stop exists: the job fails in stop_vm.
        vm: { controller: "commands", stopSource: "test -e /run/allow-stop", startTarget: "true" },
        cutover: "auto",
      }),
    });
    const { id } = (await res.json()) as Migration;
    await page.goto(`${server.url}/jobs/${id}`);
    await expect.poll(badge, { timeout: 240_000, interval: 500 }).toBe("failed");
    await shot("dashboard-flow-failed");
    await sh(lab1, "touch /run/allow-stop");
    await page.getByRole("button", { name: "Retry…" }).click();
    await page.getByRole("dialog", { name: "Retry this migration?" }).getByRole("button", { name: "Retry" }).click();
    await expect.poll(badge, { timeout: 240_000, interval: 500 }).toBe("succeeded");
    const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/stuck");
    expect(target).toBe(source);
    await shot("dashboard-flow-retried");
    expect(errors).toEqual([]);
  });
});

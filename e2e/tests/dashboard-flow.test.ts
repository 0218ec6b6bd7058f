// The dashboard end to end against real LVM hypervisors (lab hosts), everything done by clicking in headless
// Chromium: add and trust both hosts, walk the wizard, watch progress move, cut over, see the job verified; then
// cancel a running job and retry a failed one from the browser. On VM hosts, last, a real libvirt VM with a classic
// and a thin disk moves from lab1 to lab2 through the wizard, its job page showing both disks. Screenshots go to
// test-results/.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type Migration, SESSION_COOKIE } from "@blockferry/contracts";
import { loadConfig, type RunningServer, startServer } from "@blockferry/server";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import { diskLv, vmDefaults } from "../lab/vm/domain.ts";
import { checkVm, createVm, removeVm, vmState } from "../lab/vm/vm.ts";
import { adminSession, adminToken, authHeaders } from "./support/auth.ts";
import { leftovers, lvsOfJob, sh, sha256OnBoth } from "./support/lvm.ts";

const ARTIFACTS = resolve(import.meta.dirname, "../../test-results");
const { hosts } = labPair();
const [lab1, lab2] = hosts as [LabHost, LabHost];
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The last case's libvirt VM (VM hosts only), its two 16 MiB disks (the second thin) and lab2's pool for that one. */
const vm = `dvm${process.pid}`;
const vmDisks = [diskLv(vm, 0), diskLv(vm, 1)] as const;
const vmPool = `${vm}-tp`;
/**
 * What the VM's disks hold besides its record ring (1-2 MiB): random data from 8 MiB on, which the VM never
 * touches. It gives each full copy blocks to send at the bandwidth limit (all-zero blocks cost nothing), and it
 * must arrive intact.
 */
const FILLER = { fromMiB: 8, mib: 8 };

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

  /** The VM of the last case (VM hosts only), prepared once; awaited there and before clean-up. */
  let vmReady: Promise<unknown> | undefined;
  const figures: string[] = [];
  /**
   * Creates the VM on lab1 (booted, its first records written, filler data on both disks) and readies lab2. Started
   * by the cancel case, whose copy crawls at 256 KiB/s: the nested boot then takes lab1's one vCPU from a case that
   * waits anyway, not from the wizard case, which would wait on lab1 the longer.
   */
  const prepareVm = () => {
    if (!inject("labVmHosts") || vmReady !== undefined) return;
    const t0 = Date.now();
    vmReady = Promise.all([
      createVm(lab1, { ...vmDefaults, name: vm, disks: 2, size: "16m", thin: true }).then(() =>
        sh(
          lab1,
          vmDisks
            .map(
              (lv) =>
                `dd if=/dev/urandom of=/dev/vg0/${lv} bs=1M seek=${FILLER.fromMiB} count=${FILLER.mib} oflag=direct status=none`,
            )
            .join(" && "),
        ),
      ),
      sh(lab2, `lvcreate -q -y --type thin-pool -L 32m -n ${vmPool} vg0`),
      // libvirtd probes its emulator once per boot, at the first domain it meets (~10 s nested): lab2 would do it
      // during the outage; a hypervisor in service has it cached (see migration-vm.test.ts).
      sh(lab2, "virsh -q domcapabilities >/dev/null"),
    ]).then(() => figures.push(`VM ready ${seconds(Date.now() - t0)} after its creation began`));
    // Awaited by the VM case; until then a failure must not count as unhandled.
    vmReady.catch(() => undefined);
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
    if (figures.length) process.stderr.write(`dashboard-flow: ${figures.join("; ")}\n`);
    if (vmReady !== undefined) {
      // Later files find no VM, disk or pool of this one on either host (thin LVs go before their pools).
      await vmReady.catch(() => undefined);
      await Promise.all(
        [lab1, lab2].map(async (h) => {
          await removeVm(h, vm);
          await sh(h, `lvremove -q -y vg0/${vmPool} >/dev/null 2>&1; true`);
        }),
      );
    }
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
      // The private lab link, as operators give a migration network: the copies then go host to host.
      if (lab.privateAddress) await form.getByLabel(/^Migration address/).fill(lab.privateAddress);
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
    // Over the lab link: the full copy went host to host (the small catch-up and final runs may take the relay).
    if (lab2.privateAddress)
      expect(await page.getByTestId("job-data-path").textContent()).toMatch(
        new RegExp(`^Data path: (direct, ${lab1.name} → ${lab2.name}|.* by pass: full-g1 direct,)`),
      );
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
    prepareVm();
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

  it("moves a libvirt VM with a classic and a thin disk from the wizard: both disks listed, copied and started on lab2", async (ctx) => {
    ctx.skip(!inject("labVmHosts"), "needs VM hosts (libvirtd): BF_LAB_VM=1, or a run with migration-vm.test.ts");
    prepareVm();
    await vmReady;
    const t0 = Date.now();
    await page.getByRole("link", { name: "New migration" }).click();
    await page.getByRole("radio", { name: new RegExp(lab1.name) }).check();
    // lab1 has a libvirt VM: a VM is offered first, this one running, with both its disks, their sizes and kinds.
    const vmChoice = page.getByRole("radio", { name: new RegExp(`^VM ${vm}`) });
    await vmChoice.waitFor({ timeout: 60_000 });
    expect(await page.getByRole("radio", { name: /^A VM/ }).isChecked()).toBe(true);
    expect(await vmChoice.isDisabled()).toBe(false);
    const card = (await page.locator("label.choice").filter({ has: vmChoice }).textContent()) ?? "";
    expect(card).toContain("running · 2 disks, 32.0 MiB");
    expect(card).toContain(`hda: vg0/${vmDisks[0]} · 16.0 MiB · classic`);
    expect(card).toContain(`hdb: vg0/${vmDisks[1]} · 16.0 MiB · thin`);
    await vmChoice.check();
    await shot("dashboard-flow-vm-1-what");
    await page.getByRole("button", { name: /^Next:/ }).click();

    // Screen 2: lab2, then per disk a destination: vg0 for the classic disk, lab2's thin pool for the thin one.
    const destination = page.getByRole("group", { name: "Destination host" });
    await destination.getByRole("radio", { name: new RegExp(lab2.name) }).check();
    const disk0 = page.getByRole("group", { name: `Disk 0: hda · vg0/${vmDisks[0]}` });
    const disk1 = page.getByRole("group", { name: `Disk 1: hdb · vg0/${vmDisks[1]}` });
    await disk0.getByRole("radio", { name: /^VG vg0/ }).check({ timeout: 60_000 });
    await disk1.getByRole("radio", { name: new RegExp(`^thin pool vg0/${vmPool}`) }).check();
    expect(await disk0.getByLabel("Name of the new LV").inputValue()).toBe(vmDisks[0]);
    expect(await disk1.getByLabel("Name of the new LV").inputValue()).toBe(vmDisks[1]);
    expect(await page.getByRole("radio", { name: /libvirt/ }).isChecked()).toBe(true);
    expect(await page.getByLabel("Domain").inputValue()).toBe(vm);
    await page.getByRole("radio", { name: /^Automatic/ }).check();
    // 4 MiB/s per disk: each copy's 12 MiB or more of data takes 3 s at least, time to see both disks mid-copy.
    await page.getByLabel(/^Bandwidth limit/).fill("4");
    await shot("dashboard-flow-vm-2-where");
    await page.getByRole("button", { name: /^Next:/ }).click();

    // Screen 3: the VM, its disks each to its place, prechecks per disk all passed.
    expect(await page.getByTestId("review-vm").textContent()).toBe(`${vm} on ${lab1.name}, 2 disks (32.0 MiB)`);
    const review = (await page.getByTestId("review-disks").textContent()) ?? "";
    expect(review).toContain(
      `disk 0 (hda): ${lab1.name} vg0/${vmDisks[0]} (16.0 MiB) → ${lab2.name} vg0/${vmDisks[0]}`,
    );
    expect(review).toContain(
      `disk 1 (hdb): ${lab1.name} vg0/${vmDisks[1]} (16.0 MiB) → ${lab2.name} vg0/${vmDisks[1]} in thin pool ${vmPool}`,
    );
    expect(await page.getByTestId("review-vm-control").textContent()).toBe(`libvirt stops and starts domain ${vm}`);
    const checks = page.getByRole("list", { name: "Precheck results" });
    await checks.waitFor({ timeout: 60_000 });
    expect(await checks.locator("li.bad").allTextContents()).toEqual([]);
    expect(await checks.textContent()).toContain("disk 1 (hdb) · source volume");
    await shot("dashboard-flow-vm-3-review");
    await page.getByRole("button", { name: "Start migration" }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    const id = jobIdFromUrl();
    const started = Date.now();

    // The job page: both disks, each with its own progress, seen together mid-copy.
    await expect
      .poll(() => page.getByRole("heading", { level: 2 }).textContent(), { timeout: 30_000 })
      .toBe(`Migration #${id}: VM ${vm} · 2 disks`);
    const diskFigures = () =>
      Promise.all(
        [0, 1].map(async (i) => {
          const progress = (await page.getByTestId(`disk-progress-${i}`).textContent()) ?? "";
          const state = await page.getByTestId(`disk-state-${i}`).textContent();
          return { state, percent: Number(/\(([\d.]+)%\)$/.exec(progress)?.[1]) };
        }),
      );
    await expect
      .poll(async () => (await diskFigures()).every((d) => d.state === "copying" && d.percent > 0 && d.percent < 100), {
        timeout: 240_000,
        interval: 100,
      })
      .toBe(true);
    await shot("dashboard-flow-vm-4-copying");
    expect(await page.getByTestId("disk-row-1").textContent()).toContain(`→ vg0/${vmDisks[1]} (thin pool ${vmPool})`);

    // Automatic cutover: the VM stops on lab1, its disks' last changes go over, it starts on lab2.
    await expect.poll(badge, { timeout: 600_000, interval: 500 }).toBe("succeeded");
    // The finished screen: every disk, its size and how it was verified (the report's verify events).
    for (const i of [0, 1]) {
      const row = page.getByTestId(`facts-disk-${i}`);
      const text = async () => ((await row.count()) ? (await row.locator("th, td").allTextContents()).join(" | ") : "");
      await expect
        .poll(text, { timeout: 30_000, interval: 250 })
        .toMatch(
          new RegExp(
            `^${i} \\| vg0/${vmDisks[i]} → vg0/${vmDisks[i]}.* \\| 16\\.0 MiB ${i === 0 ? "classic" : "thin"} \\| ` +
              "verified: (final delta|whole volume) re-hashed on both hosts \\(\\d+ ranges?\\), all equal \\| kept on the source host$",
          ),
        );
    }
    expect(await page.getByTestId("outage").textContent()).not.toBe("–");
    // Both disks' full copies went host to host at once, each with access of its own.
    if (lab2.privateAddress)
      expect(await page.getByTestId("job-data-path").textContent()).toMatch(
        new RegExp(`^Data path: (direct, ${lab1.name} → ${lab2.name}|.* by pass: full-g1 direct,)`),
      );
    await shot("dashboard-flow-vm-5-succeeded");
    figures.push(
      `VM wizard ${seconds(started - t0)}, its job ${seconds(Date.now() - started)} (outage ${await page.getByTestId("outage").textContent()})`,
    );

    expect(await vmState(lab2, vm)).toBe("running");
    expect(await vmState(lab1, vm)).toBe("shut off");
    const check = await checkVm(lab2, vm);
    expect(check.ok).toBe(true);
    expect(check.disks.map((d) => d.device)).toEqual(["/dev/hda", "/dev/hdb"]);
    for (const d of check.disks) {
      expect(d.torn).toBe(0);
      expect(d.records).toBeGreaterThan(0);
    }
    for (const lv of vmDisks) {
      const filler = `dd if=/dev/vg0/${lv} bs=1M skip=${FILLER.fromMiB} count=${FILLER.mib} iflag=direct status=none | sha256sum`;
      expect(await sh(lab2, filler)).toBe(await sh(lab1, filler));
    }
    expect(await lvsOfJob(lab1, "vg0", id, `${vm}-`)).toEqual([]); // its snapshots are gone
    for (const h of [lab1, lab2]) expect((await leftovers(h, "vg0")).processes).toEqual([]);
    // Neither disk's direct access is left: no key line of this job's, no key directory (the job's or a disk's).
    const tag = `([0-9a-f]{8}-)?${id}(-d[0-9]+)?$`;
    const access = `grep -cE ' blockferry-migration-${tag}' /root/.ssh/authorized_keys || true; ls -d /run/blockferry-* 2>/dev/null | grep -E '^/run/blockferry-${tag}' || true`;
    for (const h of [lab1, lab2]) expect((await sh(h, access)).trim(), h.name).toMatch(/^0?$/);
    expect(errors).toEqual([]);
  }, 900_000);
});

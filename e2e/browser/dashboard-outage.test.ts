// The outage as it happens: from the stop on the source until the VM runs again, the job page says where the VM is,
// for how long it has been down (ticking), and what Retry and Cancel would do to it; the jobs list marks it. Real
// server and sshd (stand-in LVM tools): a job is created through the API and fails for real, then its row is moved to
// the outage phases as dashboard-no-return.test.ts does (the lab proves the same on real LVM with a powered-off
// target: e2e/tests/migration-faults.test.ts).
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  failedJob as failedJobOf,
  loginAs,
  moveJob,
  screenshot,
  startTwoHostDashboard,
  type TwoHostDashboard,
} from "./dashboard-support.ts";

const MiB = 2 ** 20;

describe("dashboard: the outage banner", () => {
  let setup: TwoHostDashboard;
  let server: TwoHostDashboard["server"];
  let page: Page;
  let errors: string[];

  const failedJob = async (lv: string): Promise<number> =>
    (await failedJobOf(setup, lv, { vm: { controller: "libvirt", domain: lv } })).id;

  const banner = () => page.getByTestId("outage-banner");
  const bannerText = async () => ((await banner().count()) === 0 ? "" : ((await banner().textContent()) ?? ""));

  beforeAll(async () => {
    setup = await startTwoHostDashboard("outage");
    ({ server, page, errors } = setup);
    await loginAs(page, server);
  }, 60_000);
  afterAll(async () => {
    await setup?.close();
  });

  it("while the VM is down: stopped on the source, a ticking downtime, what a cancel would do; the list marks it", async () => {
    const id = await failedJob("db1");
    moveJob(server, id, {
      state: "running",
      phase: "final_delta",
      phaseState: { sizeBytes: 64 * MiB, vmStoppedAt: Date.now() - 12_000 },
    });
    await page.goto(`${server.url}/jobs/${id}`);
    await expect
      .poll(bannerText, { timeout: 15_000 })
      .toMatch(/^VM stopped on hv-src since .+ \(0:1\d\), not running anywhere\./);
    expect(await banner().getAttribute("role")).toBe("status");
    expect(await page.getByTestId("outage-cancel").textContent()).toBe(
      "Cancel: starts the VM again on hv-src from its untouched disk.",
    );
    expect(await page.getByTestId("outage-retry").count()).toBe(0);
    // The downtime runs on the page without anything from the server.
    const first = await page.getByTestId("outage-elapsed").textContent();
    await expect.poll(() => page.getByTestId("outage-elapsed").textContent(), { timeout: 5_000 }).not.toBe(first);
    await screenshot(page, "dashboard-outage-vm-down");

    await page.goto(`${server.url}/jobs`);
    await expect.poll(() => page.getByTestId(`job-vm-down-${id}`).textContent(), { timeout: 15_000 }).toBe("VM down");
    await screenshot(page, "dashboard-outage-jobs-list");
  });

  it("a failure with the VM stopped: it is down, what Retry and Cancel would each do, hosts by name", async () => {
    const id = await failedJob("db2");
    moveJob(server, id, {
      state: "failed",
      phase: "final_delta",
      phaseState: { sizeBytes: 64 * MiB, vmStoppedAt: Date.now() - 30_000 },
      error: {
        code: "HOST_UNREACHABLE",
        phase: "final_delta",
        message: "cannot reach hv-dst (root@127.0.0.1:46495): connection refused",
      },
    });
    await page.goto(`${server.url}/jobs/${id}`);
    await expect.poll(bannerText, { timeout: 15_000 }).toMatch(/^The VM is down: VM stopped on hv-src since /);
    expect(await banner().getAttribute("role")).toBe("alert");
    expect(await page.getByTestId("outage-retry").textContent()).toBe(
      "Retry: resumes the final delta and starts the VM on hv-dst.",
    );
    expect(await page.getByTestId("outage-cancel").textContent()).toBe(
      "Cancel: starts the VM again on hv-src from its untouched disk.",
    );
    await screenshot(page, "dashboard-outage-failed-vm-down");

    // A start on the target was decided and failed: the VM may run there, so a cancel would be refused.
    moveJob(server, id, {
      state: "failed",
      phase: "start_vm",
      phaseState: {
        sizeBytes: 64 * MiB,
        vmStoppedAt: Date.now() - 30_000,
        startDecision: { host: "target", at: Date.now() },
      },
    });
    await expect.poll(bannerText, { timeout: 15_000 }).toContain("a start on hv-dst was tried and may have run");
    expect(await page.getByTestId("outage-retry").textContent()).toContain("tries again to start the VM on hv-dst");
    expect(await page.getByTestId("outage-cancel").textContent()).toContain(
      "not possible: the VM may already run on hv-dst",
    );
  });

  it("after a rollback: the VM runs on the source again, and what Retry and Cancel would do", async () => {
    const id = await failedJob("db3");
    const restartedAt = Date.now() - 5_000;
    moveJob(server, id, {
      state: "rolled_back",
      phase: "prechecks",
      phaseState: { sizeBytes: 64 * MiB, lastOutage: { stoppedAt: restartedAt - 43_000, restartedAt }, rollbacks: 1 },
    });
    await page.goto(`${server.url}/jobs/${id}`);
    await expect
      .poll(bannerText, { timeout: 15_000 })
      .toMatch(/^The VM runs again on hv-src since .+, after an outage of 0:43: the migration rolled back\./);
    expect(await page.getByTestId("outage-retry").textContent()).toBe(
      "Retry: copies the disks again from new snapshots and waits for your cutover; the VM keeps running on hv-src until then.",
    );
    expect(await page.getByTestId("outage-cancel").textContent()).toBe(
      "Cancel: keeps the VM running on hv-src and ends the migration, removing whatever of it is still on hv-dst.",
    );
    await screenshot(page, "dashboard-outage-rolled-back");
    expect(errors).toEqual([]);
  });
});

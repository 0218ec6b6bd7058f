// Issue 19 in the dashboard: the inventory marks a migrated-away LV with a link to its job, and an operator removes
// it from the succeeded job's page by typing its name. Real server and sshd; the stand-in lvs/lvremove keep state
// (test-support/lvm-stand-ins.ts), so the removal really happens to what the "host" reports. A succeeded job cannot
// be reached without real LVM, so its row is written to SQLite as a finished runner leaves it; the whole path on
// real LVM is e2e/tests/migration.test.ts (lab).
import type { Host, Migration } from "@blockferry/contracts";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LvmStandIns, writeLvmStandIns } from "../../test-support/lvm-stand-ins.ts";
import {
  addTrustedHost,
  type DashboardServer,
  type Fleet,
  laptopPage,
  launchChromium,
  loginAs,
  screenshot,
  startDashboardServer,
  startFleet,
} from "./dashboard-support.ts";

describe("dashboard: removing the source LV a migration kept", () => {
  let server: DashboardServer;
  let fleet: Fleet;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let host: Host;
  let lvm: LvmStandIns;
  let jobId: number;

  beforeAll(async () => {
    [server, fleet, browser] = await Promise.all([
      startDashboardServer("decommission"),
      startFleet(),
      launchChromium(),
    ]);
    lvm = writeLvmStandIns(fleet.toolsDir);
    host = await addTrustedHost(server, fleet.sshd, "hv-src");
    // A succeeded migration of vg0/vm1 to vg1 on the same host, as the runner leaves the row.
    jobId = Number(
      server.runtime.db.$client
        .prepare(
          "insert into jobs (state, phase, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
            "target_lv, vm, options, started_at, finished_at) values ('succeeded', 'done', ?, 'vg0', 'vm1', ?, " +
            "'vg1', 'vm1', '{\"controller\":\"none\"}', '{}', ?, ?)",
        )
        .run(host.id, host.id, new Date(Date.now() - 60_000).toISOString(), new Date().toISOString()).lastInsertRowid,
    );
    lvm.setLvs([
      { lv_name: "vm1", lv_size: String(64 << 20), lv_tags: `blockferry_migrated_${jobId}` },
      { lv_name: "data-1", lv_size: String(64 << 20) },
    ]);
    ({ page, errors } = await laptopPage(browser));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await fleet?.close();
  });

  it("marks the LV as migrated away, then removes it after the operator types its name", async () => {
    const operator = await loginAs(page, server, "operator", `/hosts/${host.id}`);
    const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: /^vg0\/vm1/ }) });
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toContain(`migrated away (job #${jobId})`);
    await screenshot(page, "decommission-1-inventory");
    await row.getByRole("link", { name: `job #${jobId}` }).click();
    await page.waitForURL(`**/jobs/${jobId}`);

    await page.getByRole("button", { name: "Remove source LV…" }).click();
    const dialog = page.getByRole("dialog", { name: "Remove the source LV?" });
    const confirm = dialog.getByRole("button", { name: "Remove source LV" });
    const typed = dialog.getByLabel("Type vg0/vm1 to confirm");
    expect(await confirm.isDisabled()).toBe(true);
    await typed.fill("vg0/vm");
    expect(await confirm.isDisabled()).toBe(true);
    await typed.fill("vg0/vm1");
    await screenshot(page, "decommission-2-typed");
    await confirm.click();

    const note = page.getByTestId("source-removed");
    await note.waitFor({ timeout: 15_000 });
    expect(await note.textContent()).toMatch(new RegExp(`Source LV vg0/vm1 removed .+ by ${operator.username}`));
    expect(await page.getByRole("button", { name: "Remove source LV…" }).count()).toBe(0);
    await screenshot(page, "decommission-3-removed");

    expect(lvm.lvs().map((r) => r.lv_name)).toEqual(["data-1"]);
    expect(lvm.calls().filter((c) => c[0] === "lvremove")).toEqual([["lvremove", "--yes", "vg0/vm1"]]);
    const job = (await (await server.api(`/api/migrations/${jobId}`)).json()) as Migration;
    expect(job.sourceDecommissionedBy).toBe(operator.username);
    expect(errors).toEqual([]);
  }, 90_000);
});

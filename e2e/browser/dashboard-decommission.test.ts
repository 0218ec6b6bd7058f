// Issue 19 in the dashboard: the inventory marks a migrated-away LV with a link to its job, and an operator removes
// it from the succeeded job's page by typing its name; for a VM's migration (issue 14), every disk's LV on one
// confirm naming them all, and what a failure part-way left is finished by the same confirm again. Real server and sshd; the stand-in lvs/lvremove keep state
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

  it("removes a VM's every source LV on one confirm naming them all, and finishes after a failure part-way", async () => {
    const sql = (q: string, ...args: unknown[]) => server.runtime.db.$client.prepare(q).run(...args);
    // A succeeded migration of VM db1's two disks, as the runner leaves its rows.
    const id = Number(
      sql(
        "insert into jobs (state, phase, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
          "target_lv, vm, options, phase_state, started_at, finished_at) values ('succeeded', 'done', ?, 'vg0', " +
          "'db1-root', ?, 'vg1', 'db1-root', '{\"controller\":\"none\"}', '{}', ?, ?, ?)",
        host.id,
        host.id,
        JSON.stringify({ sizeBytes: 64 << 20, verifiedPass: "final", finalCopiedPass: "final" }),
        new Date(Date.now() - 60_000).toISOString(),
        new Date().toISOString(),
      ).lastInsertRowid,
    );
    for (const [idx, lv] of ["db1-root", "db1-data"].entries())
      sql(
        "insert into job_disks (job_id, idx, source_host_id, source_vg, source_lv, target_host_id, target_vg, " +
          "target_lv, phase_state, active) values (?, ?, ?, 'vg0', ?, ?, 'vg1', ?, ?, 0)",
        id,
        idx,
        host.id,
        lv,
        host.id,
        lv,
        JSON.stringify({ sizeBytes: 32 << 20 }),
      );
    const tag = `blockferry_migrated_${id}`;
    lvm.setLvs([
      { lv_name: "db1-root", lv_size: String(64 << 20), lv_tags: tag },
      { lv_name: "db1-data", lv_size: String(32 << 20), lv_tags: tag },
      { lv_name: "data-1", lv_size: String(64 << 20) },
    ]);
    const removalsBefore = lvm.calls().filter((c) => c[0] === "lvremove").length;
    await page.goto(`${server.url}/jobs/${id}`);

    await page.getByRole("button", { name: "Remove source LVs…" }).click();
    const dialog = page.getByRole("dialog", { name: "Remove the 2 source LVs?" });
    expect(await dialog.getByTestId("decommission-list").textContent()).toBe(
      "disk 0: vg0/db1-rootdisk 1: vg0/db1-data",
    );
    const confirm = dialog.getByRole("button", { name: "Remove source LVs" });
    const typed = dialog.getByLabel("Type vg0/db1-root,vg0/db1-data to confirm");
    await typed.fill("vg0/db1-root");
    expect(await confirm.isDisabled()).toBe(true);
    await typed.fill("vg0/db1-root,vg0/db1-data");
    await screenshot(page, "decommission-4-vm-typed");

    // Disk 1's LV is opened after the checks passed: its lvremove fails, disk 0's is gone.
    lvm.failNextRemoval("vg0/db1-data");
    await confirm.click();
    const error = dialog.getByRole("alert");
    await error.waitFor({ timeout: 15_000 });
    expect(await error.textContent()).toContain("removed: vg0/db1-root; not removed: vg0/db1-data");
    const partly = page.getByTestId("source-partly-removed");
    await partly.waitFor({ timeout: 15_000 });
    expect(await partly.textContent()).toBe(
      "Removed: vg0/db1-root. Still kept: vg0/db1-data (removing again removes only these).",
    );
    await expect
      .poll(() => dialog.getByTestId("decommission-list").textContent(), { timeout: 15_000 })
      .toBe("disk 0: vg0/db1-root (removed already)disk 1: vg0/db1-data");
    await screenshot(page, "decommission-5-vm-part-way");
    expect(lvm.lvs().map((r) => r.lv_name)).toEqual(["db1-data", "data-1"]);

    // The same confirm again removes the rest.
    await confirm.click();
    const note = page.getByTestId("source-removed");
    await note.waitFor({ timeout: 15_000 });
    expect(await note.textContent()).toMatch(/^Source LVs vg0\/db1-root, vg0\/db1-data removed .+ by /);
    expect(await dialog.isVisible()).toBe(false);
    expect(await page.getByRole("button", { name: "Remove source LVs…" }).count()).toBe(0);
    for (const disk of [0, 1])
      expect(await page.getByTestId(`facts-disk-${disk}`).locator("td").last().textContent()).toMatch(
        /^removed .+ by /,
      );
    await screenshot(page, "decommission-6-vm-removed");

    expect(lvm.lvs().map((r) => r.lv_name)).toEqual(["data-1"]);
    expect(
      lvm
        .calls()
        .filter((c) => c[0] === "lvremove")
        .slice(removalsBefore),
    ).toEqual([
      ["lvremove", "--yes", "vg0/db1-root"],
      ["lvremove", "--yes", "vg0/db1-data"],
      ["lvremove", "--yes", "vg0/db1-data"],
    ]);
    const job = (await (await server.api(`/api/migrations/${id}`)).json()) as Migration;
    expect(job.disks.map((d) => d.sourceRemovedAt !== null)).toEqual([true, true]);
    expect(job.sourceDecommissionedAt).not.toBeNull();
    expect(errors).toEqual([]);
  }, 90_000);
});

// The direct data plane where people see and set it: an admin sets a host's migration address on its page (a bad
// one is refused with the server's words), the hosts list shows the address in effect, and a job page says which
// way its copies went. Real server and sshd (stand-in LVM tools): the job is created through the API and fails for
// real in its snapshot phase; its copies are then written as a runner in another process writes them (the pass's
// log line through the server's hub, the pass in the row's phase state), since a real copy needs real LVM
// (e2e/tests/migration-direct.test.ts runs one in the lab).
import type { Host, Migration } from "@blockferry/contracts";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  jobOf,
  loginAs,
  moveJob,
  screenshot,
  startTwoHostDashboard,
  type TwoHostDashboard,
} from "./dashboard-support.ts";

describe("dashboard: migration address and the data path a job took", () => {
  let setup: TwoHostDashboard;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    setup = await startTwoHostDashboard("data-path");
    ({ page, errors } = setup);
    await loginAs(page, setup.server);
  }, 60_000);
  afterAll(async () => {
    await setup?.close();
  });

  it("an admin sets the destination's migration address on its page; the hosts list shows the address in effect", async () => {
    const { server, dst } = setup;
    await page.goto(`${server.url}/hosts/${dst.id}`);
    const field = page.getByTestId("migration-address");
    await field.getByRole("button", { name: "Edit" }).click();
    const input = page.locator("#host-migration-address");
    await input.fill("10.77.0.2:99999");
    await field.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => field.getByRole("alert").textContent()).toContain("the port must be 1..65535");
    await input.fill("10.77.0.2:22");
    await field.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByTestId("migration-address-value").textContent()).toBe("10.77.0.2:22");
    const stored = (await (await server.api(`/api/hosts/${dst.id}`)).json()) as Host;
    expect(stored.migrationAddress).toBe("10.77.0.2:22");
    await screenshot(page, "dashboard-host-migration-address");

    await page.goto(`${server.url}/hosts`);
    const row = (name: string) => page.getByTestId(`host-row-${name}`).getByTestId("host-migration-address");
    await expect.poll(() => row("hv-dst").textContent()).toBe("10.77.0.2:22");
    // hv-src has none: the address the server uses, said so.
    expect(await row("hv-src").textContent()).toMatch(/^127\.0\.0\.1:\d+ \(its address\)$/);
  });

  it("a job page says which way the copies went: the relay and why auto took it, then direct", async () => {
    const { server, src, dst } = setup;
    const res = await server.api("/api/migrations", {
      method: "POST",
      body: JSON.stringify({
        source: { hostId: src.id, vg: "vg0", lv: "data-1" },
        target: { hostId: dst.id, vg: "vg1", lv: "data-1-copy" },
        vm: { controller: "none" },
        options: { dataPath: "auto" },
      }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as Migration;
    await vi.waitFor(async () => expect((await jobOf(server, id)).state).toBe("failed"), {
      timeout: 30_000,
      interval: 200,
    });

    const reason = "direct path not available: hv-src cannot reach hv-dst at its migration address 10.77.0.2:22";
    const full = { pass: "full-g1", ran: "relay", reason };
    moveJob(server, id, {
      state: "running",
      phase: "full_copy",
      phaseState: { sizeBytes: 256 * 2 ** 20, dataPaths: [full] },
    });
    server.runtime.hub.append(id, "job.log", {
      level: "warn",
      message: `full-g1: data path relay (${reason})`,
      phase: "full_copy",
      dataPath: "relay",
    });
    await page.goto(`${server.url}/jobs/${id}`);
    const line = page.getByTestId("job-data-path");
    await expect.poll(() => line.textContent(), { timeout: 10_000 }).toBe(`Data path: relay: ${reason} (asked: auto)`);
    await screenshot(page, "dashboard-job-data-path-relay");

    // The address fixed, the next pass went host to host: the open page follows the stored event.
    moveJob(server, id, {
      state: "running",
      phase: "catch_up",
      phaseState: { sizeBytes: 256 * 2 ** 20, dataPaths: [full, { pass: "catchup-1", ran: "direct" }] },
    });
    server.runtime.hub.append(id, "job.log", {
      level: "info",
      message: "catchup-1: data path direct",
      phase: "catch_up",
      dataPath: "direct",
    });
    await expect
      .poll(() => line.textContent(), { timeout: 10_000 })
      .toBe("Data path: direct, hv-src → hv-dst (asked: auto) · by pass: full-g1 relay, catchup-1 direct");
    // A pass deciding its path within the same phase: the stored log line alone moves the line (no phase event).
    const passes = [full, { pass: "catchup-1", ran: "direct" }, { pass: "catchup-2", ran: "relay", reason }];
    server.runtime.db.$client
      .prepare("update jobs set phase_state = ? where id = ?")
      .run(JSON.stringify({ sizeBytes: 256 * 2 ** 20, dataPaths: passes }), id);
    server.runtime.hub.append(id, "job.log", {
      level: "warn",
      message: `catchup-2: data path relay (${reason})`,
      phase: "catch_up",
      dataPath: "relay",
    });
    await expect.poll(() => line.textContent(), { timeout: 10_000 }).toMatch(/^Data path: relay: .*catchup-2 relay$/);
    const log = await page.getByRole("log").textContent();
    expect(log).toContain("catchup-1: data path direct");
    await screenshot(page, "dashboard-job-data-path");
    expect(errors).toEqual([]);
  });
});

// The job page's Cancel button follows the server's `cancellable`, and the jobs list and job page show the volume's
// size apart from the bytes of the copy pass. Real server and sshd (stand-in LVM tools): a job is created through the
// API and fails for real, then its row is moved on in SQLite to the phases that cannot be reached without real LVM
// (held by another process's lease, so this server's runner leaves it alone), and the move is announced through the
// server's event hub as the runner does. The full flow on real LVM is in e2e/tests/dashboard-flow.test.ts (lab).
import type { Migration } from "@blockferry/contracts";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  failedJob as failedJobOf,
  type JobMove,
  jobOf,
  loginAs,
  moveJob,
  screenshot,
  startTwoHostDashboard,
  type TwoHostDashboard,
} from "./dashboard-support.ts";

const MiB = 2 ** 20;

describe("dashboard: cancel past the point of no return, and the volume size", () => {
  let setup: TwoHostDashboard;
  let server: TwoHostDashboard["server"];
  let page: Page;
  let errors: string[];

  const getJob = (id: number) => jobOf(server, id);

  const failedJob = async (lv: string): Promise<number> => {
    const created = await failedJobOf(setup, lv);
    expect(created).toMatchObject({ cancellable: true, sizeBytes: null });
    return created.id;
  };

  /** Moves a job on as a runner in another process would, with copy counters (1 of 3 MiB) apart from its size. */
  const move = (id: number, to: Pick<JobMove, "state" | "phase" | "phaseState">) =>
    moveJob(server, id, { ...to, bytesTotal: 3 * MiB, bytesDone: MiB });

  beforeAll(async () => {
    setup = await startTwoHostDashboard("no-return");
    ({ server, page, errors } = setup);
    await loginAs(page, server);
  }, 60_000);
  afterAll(async () => {
    await setup?.close();
  });

  it("disables Cancel with the reason once the job enters start_vm, live, and shows the volume size", async () => {
    const id = await failedJob("data-1");
    const size = 64 * MiB;
    // The final delta's verify: a cancel would still roll back.
    move(id, { state: "running", phase: "verify", phaseState: { sizeBytes: size, vmStoppedAt: Date.now() } });
    await page.goto(`${server.url}/jobs/${id}`);
    await expect.poll(() => page.locator(".conn").textContent(), { timeout: 15_000 }).toBe("live");
    const cancel = page.getByRole("button", { name: "Cancel…" });
    await expect.poll(() => cancel.isEnabled(), { timeout: 15_000 }).toBe(true);
    expect(await page.getByTestId("volume-size").textContent()).toBe("64.0 MiB");
    // The copy figures are the pass's bytes, not the volume's.
    expect(await page.getByTestId("bytes-progress").textContent()).toContain("1.00 MiB of 3.00 MiB");

    // The runner enters start_vm: the page follows the event, and the server says cancel is no longer possible.
    move(id, { state: "running", phase: "start_vm", phaseState: { sizeBytes: size, vmStoppedAt: Date.now() } });
    await expect.poll(() => cancel.isDisabled(), { timeout: 15_000 }).toBe(true);
    expect((await getJob(id)).cancellable).toBe(false);
    const note = page.locator("#cancel-blocked");
    expect(await note.textContent()).toContain("Past the point of no return");
    expect(await cancel.getAttribute("title")).toBe(await note.textContent());
    expect(await cancel.getAttribute("aria-describedby")).toBe("cancel-blocked");
    // The API agrees: the button hid nothing the server would have accepted.
    const refused = await server.api(`/api/migrations/${id}/cancel`, { method: "POST" });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { details: { reason: string } } }).error.details.reason).toBe(
      "past_point_of_no_return",
    );
    await screenshot(page, "dashboard-job-past-no-return");
    expect(await page.getByTestId("volume-size").textContent()).toBe("64.0 MiB");
  });

  it("keeps Cancel for a start that failed before the VM came up, not after it did", async () => {
    const id = await failedJob("web1-disk");
    move(id, { state: "failed", phase: "start_vm", phaseState: { sizeBytes: 256 * MiB, vmStoppedAt: 1 } });
    await page.goto(`${server.url}/jobs/${id}`);
    await expect.poll(() => page.locator(".conn").textContent(), { timeout: 15_000 }).toBe("live");
    const cancel = page.getByRole("button", { name: "Cancel…" });
    await expect.poll(() => cancel.isEnabled(), { timeout: 15_000 }).toBe(true);
    expect(await page.locator("#cancel-blocked").count()).toBe(0);

    move(id, {
      state: "failed",
      phase: "start_vm",
      phaseState: { sizeBytes: 256 * MiB, vmStoppedAt: 1, vmStartedAt: 2 },
    });
    await expect.poll(() => cancel.isDisabled(), { timeout: 15_000 }).toBe(true);
    expect(await page.locator("#cancel-blocked").textContent()).toContain("Retry to finish the clean-up");
    expect(await page.getByRole("button", { name: "Retry…" }).isEnabled()).toBe(true);
  });

  it("lists each job's volume size apart from the bytes of its copy pass", async () => {
    const early = await failedJob("data-0");
    // Failed before anything measured the volume: no size yet.
    move(early, { state: "failed", phase: "prechecks", phaseState: {} });
    await page.goto(`${server.url}/jobs`);
    const table = page.getByRole("table", { name: "Migrations" });
    await table.waitFor();
    await expect.poll(() => table.locator("tbody tr").count(), { timeout: 15_000 }).toBe(3);
    expect(await table.locator("thead th").allTextContents()).toContain("Size");
    const { migrations } = (await (await server.api(`/api/migrations`)).json()) as { migrations: Migration[] };
    const idOf = (lv: string) => migrations.find((m) => m.source.lv === lv && m.id !== early)?.id;
    expect(await page.getByTestId(`job-size-${idOf("data-1")}`).textContent()).toBe("64.0 MiB");
    expect(await page.getByTestId(`job-size-${idOf("web1-disk")}`).textContent()).toBe("256 MiB");
    expect(await page.getByTestId(`job-size-${early}`).textContent()).toBe("–");
    expect(await page.getByTestId(`job-row-${idOf("data-1")}`).textContent()).toContain("1.00 MiB / 3.00 MiB");
    await screenshot(page, "dashboard-jobs-list-sizes");
    expect(errors).toEqual([]);
  });
});

// A finished job tells what it did: volume (a VM's every disk: where it went, its size, how it was verified, its
// source LV), each pass's bytes and runs, total duration, attempts (and that the first failed, on the timeline
// too), what a rollback discarded, who started it, a log download; the jobs list shows attempts and duration; the
// throughput chart leaves an idle stretch empty. Real server and sshd (stand-in LVM tools): a job created through
// the API fails for real in its snapshot phase (attempt 1); its retry is then written as a runner in another
// process would write it (events through the server's hub, ranges in the journal table, the row in SQLite), since
// a real copy needs real LVM (e2e/tests/dashboard-flow.test.ts in the lab).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Host, Migration } from "@blockferry/contracts";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ARTIFACTS,
  failedJob as failedJobOf,
  jobOf,
  loginAs,
  moveJob,
  screenshot,
  startTwoHostDashboard,
  type TwoHostDashboard,
} from "./dashboard-support.ts";

const MiB = 2 ** 20;

describe("dashboard: a finished job's facts, its log, and gaps in the throughput chart", () => {
  let setup: TwoHostDashboard;
  let server: TwoHostDashboard["server"];
  let page: Page;
  let errors: string[];
  let dst: Host;

  const getJob = (id: number) => jobOf(server, id);
  const sql = (q: string, ...args: unknown[]) => server.runtime.db.$client.prepare(q).run(...args);

  const failedJob = async (lv: string): Promise<number> => (await failedJobOf(setup, lv)).id;

  /** Appends an event through the hub, as the runner does, stamped `seconds` after the job's first failure. */
  const at = (base: number, seconds: number) => new Date(base + seconds * 1000).toISOString();
  const stamp = (iso: string) => sql("update job_events set at = ? where id = (select max(id) from job_events)", iso);

  beforeAll(async () => {
    setup = await startTwoHostDashboard("finished");
    ({ server, page, errors, dst } = setup);
    await loginAs(page, server);
  }, 60_000);
  afterAll(async () => {
    await setup?.close();
  });

  it("shows what a job that succeeded on its second attempt did, and serves its log", async () => {
    const id = await failedJob("data-1");
    const failedAt = Date.parse((await getJob(id)).updatedAt);
    const hub = server.runtime.hub;
    // Attempt 2, as a runner stores it: retried a minute later, then every phase from the snapshot to the end.
    hub.append(id, "job.state", { state: "queued", phase: "snapshot", retry: 1 });
    stamp(at(failedAt, 60));
    hub.append(id, "job.state", { state: "running", phase: "snapshot" });
    stamp(at(failedAt, 61));
    const phases: Array<[Migration["phase"], number]> = [
      ["snapshot", 61],
      ["prepare_target", 63],
      ["full_copy", 64],
      ["catch_up", 80],
      ["wait_cutover", 84],
      ["stop_vm", 90],
      ["final_delta", 91],
      ["verify", 93],
      ["start_vm", 94],
      ["cleanup", 95],
    ];
    for (const [phase, s] of phases) {
      hub.append(id, "job.phase", { phase });
      stamp(at(failedAt, s));
    }
    hub.append(id, "job.log", {
      level: "info",
      phase: "final_delta",
      message: "final delta: 3.00 MiB (3145728 bytes) in 2 runs",
    });
    stamp(at(failedAt, 91));
    const ranges: Array<[string, number, number]> = [
      ["full-g1", 0, 32 * MiB],
      ["full-g1", 32 * MiB, 32 * MiB],
      ["catchup-1", 4 * MiB, 2 * MiB],
      ["final", 0, MiB],
      ["final", 40 * MiB, 2 * MiB],
    ];
    for (const [pass, offset, length] of ranges)
      sql(
        "insert into transfer_ranges (job_id, pass, offset, length, sha256, confirmed_at) values (?, ?, ?, ?, 'h', ?)",
        id,
        pass,
        offset,
        length,
        at(failedAt, 90),
      );
    sql(
      "update jobs set state='succeeded', phase='done', error=null, attempt=1, outage_ms=4200, phase_state=?, " +
        "bytes_total=?, bytes_done=?, finished_at=? where id=?",
      JSON.stringify({ sizeBytes: 64 * MiB }),
      3 * MiB,
      3 * MiB,
      at(failedAt, 96),
      id,
    );
    hub.append(id, "job.state", { state: "succeeded", phase: "done" });
    stamp(at(failedAt, 96));

    await page.goto(`${server.url}/jobs/${id}`);
    const facts = page.getByTestId("finished-facts");
    await facts.waitFor({ timeout: 15_000 });
    await expect
      .poll(() => page.getByTestId("facts-moved").textContent(), { timeout: 15_000 })
      .toBe("69.0 MiB in 3 passes");
    // The headline counts the whole migration, not the final delta's 3 MiB.
    expect(await page.getByTestId("bytes-progress").textContent()).toBe("69.0 MiB in 3 passes");
    expect(await page.getByTestId("facts-volume").textContent()).toBe("64.0 MiB");
    expect(await page.getByTestId("facts-created-by").textContent()).toMatch(/^admin \(token \d+\)$/);
    expect(await page.getByTestId("facts-attempts").textContent()).toMatch(
      /^2 \(1 retry\)Attempt 1 failed in snapshot: /,
    );
    // From the first start to the end: over a minute and a half.
    expect(await page.getByTestId("facts-duration").textContent()).toMatch(/^1 min 3\d s$/);
    const passRow = async (pass: string) =>
      (await page.getByTestId(`pass-${pass}`).locator("th, td").allTextContents()).join(" | ");
    expect(await passRow("full-g1")).toBe("Full copy | 64.0 MiB | 1 | 2");
    expect(await passRow("catchup-1")).toBe("Catch-up 1 | 2.00 MiB | 1 | 1");
    expect(await passRow("final")).toBe("Final delta | 3.00 MiB | 2 | 2");
    // A failure and its retry discarded nothing.
    expect(await page.getByTestId("facts-rollbacks").count()).toBe(0);
    // The timeline: per-phase durations, and the snapshot phase says the first attempt failed there.
    const snapshotStep = page.getByTestId("phase-snapshot");
    expect(await snapshotStep.getAttribute("class")).toContain("step-retried");
    expect(await snapshotStep.textContent()).toContain("attempt 1 failed here");
    expect(await page.getByTestId("phase-full_copy").textContent()).toContain("16 s");
    expect(await page.getByTestId("phase-final_delta").textContent()).toContain("2.0 s");
    // The chunk map of a success: every cell verified.
    await expect
      .poll(() => page.locator(".chunk-map .legend").textContent(), { timeout: 15_000 })
      .toMatch(/verified 100\.0%/);
    await screenshot(page, "dashboard-finished-job");

    // The log, downloaded through the link as the browser does it (the session cookie goes with it).
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download log" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`blockferry-migration-${id}.log`);
    const body = await readFile((await download.path()) as string, "utf8");
    expect(body.split("\n")[0]).toBe(`# Blockferry migration ${id}: event log (times in UTC)`);
    expect(body).toMatch(/ error \[snapshot\] snapshot failed: /);
    expect(body).toContain("info  [snapshot] retried: attempt 2 queued");
    expect(body).toContain("migration created: hv-src vg0/data-1 -> hv-dst vg1/data-1-copy; VM not controlled");
    expect(body).toContain("[final delta] final delta: 3.00 MiB (3145728 bytes) in 2 runs");
    expect(body).toContain("info  [done] state: succeeded");
    // The same file from the API: a text attachment.
    const res = await server.api(`/api/migrations/${id}/log`);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="blockferry-migration-${id}.log"`);
    expect(await res.text()).toBe(body);

    // The list: attempts and duration beside the state.
    await page.goto(`${server.url}/jobs`);
    await page.getByTestId(`job-attempts-${id}`).waitFor({ timeout: 15_000 });
    expect(await page.getByTestId(`job-attempts-${id}`).textContent()).toBe("2 (1 retry)");
    expect(await page.getByTestId(`job-duration-${id}`).textContent()).toMatch(/^1 min 3\d s$/);
    await screenshot(page, "dashboard-finished-list");
  }, 90_000);

  it("says what a rollback discarded beside the passes of the copy that exists now", async () => {
    const id = await failedJob("data-1");
    const failedAt = Date.parse((await getJob(id)).updatedAt);
    const hub = server.runtime.hub;
    const step = (seconds: number, append: () => void) => {
      append();
      stamp(at(failedAt, seconds));
    };
    const copied = (pass: string, phase: Migration["phase"], bytes: number) => () =>
      hub.append(id, "job.copied", {
        phase,
        pass,
        rangesTotal: 1,
        rangesAlreadyDone: 0,
        bytesRead: bytes,
        bytesSent: bytes,
      });
    const range = (pass: string, length: number) =>
      sql(
        "insert into transfer_ranges (job_id, pass, offset, length, sha256, confirmed_at) values (?, ?, 0, ?, 'h', ?)",
        id,
        pass,
        length,
        at(failedAt, 90),
      );
    // Attempt 2 copies and rolls back during the outage; attempt 3 starts over and succeeds. Only attempt 3's passes
    // are in the journal: the rollback's discardCopies forgot attempt 2's.
    step(10, () => hub.append(id, "job.state", { state: "queued", phase: "snapshot", retry: 1 }));
    step(11, () => hub.append(id, "job.state", { state: "running", phase: "snapshot" }));
    step(12, () => hub.append(id, "job.phase", { phase: "full_copy" }));
    step(20, copied("full-g1", "full_copy", 64 * MiB));
    step(21, () => hub.append(id, "job.phase", { phase: "catch_up" }));
    step(22, copied("catchup-1", "catch_up", 3 * MiB));
    step(23, () => hub.append(id, "job.phase", { phase: "final_delta" }));
    step(25, () =>
      hub.append(id, "job.rolled_back", { phase: "final_delta", reason: "hv-dst: connection lost", outageMs: 2500 }),
    );
    step(25, () => hub.append(id, "job.state", { state: "rolled_back", phase: "prechecks" }));
    step(60, () => hub.append(id, "job.state", { state: "queued", phase: "prechecks", retry: 2 }));
    step(61, () => hub.append(id, "job.state", { state: "running", phase: "prechecks" }));
    step(62, () => hub.append(id, "job.phase", { phase: "full_copy" }));
    step(70, copied("full-g2", "full_copy", 64 * MiB));
    step(71, () => hub.append(id, "job.phase", { phase: "final_delta" }));
    step(72, copied("final-r1", "final_delta", MiB));
    range("full-g2", 64 * MiB);
    range("final-r1", MiB);
    moveJob(server, id, {
      state: "succeeded",
      phase: "done",
      phaseState: { sizeBytes: 64 * MiB, rollbacks: 1, snapshotGen: 2 },
      finishedAt: at(failedAt, 75),
    });
    sql("update jobs set attempt = 2 where id = ?", id);
    step(75, () => hub.append(id, "job.state", { state: "succeeded", phase: "done" }));

    await page.goto(`${server.url}/jobs/${id}`);
    await page.getByTestId("finished-facts").waitFor({ timeout: 15_000 });
    await expect
      .poll(() => page.getByTestId("facts-rollback-1").textContent(), { timeout: 15_000 })
      .toMatch(
        /^Attempt 2 rolled back .+ in final delta \(VM down 2\.5 s\): hv-dst: connection lost\. Discarded: full-g1 64\.0 MiB, catchup-1 3\.00 MiB$/,
      );
    expect(await page.getByTestId("facts-rollbacks").locator("div").count()).toBe(1);
    // The passes and their total stay those of the copy on the target now.
    expect(await page.getByTestId("facts-moved").textContent()).toBe("65.0 MiB in 2 passes");
    expect(await page.getByTestId("pass-full-g1").count()).toBe(0);
    expect(await page.getByTestId("pass-full-g2").count()).toBe(1);
    await screenshot(page, "dashboard-finished-after-rollback");
  }, 90_000);

  it("lists every disk of a VM's migration once it succeeded: where each went, its size and its verified state", async () => {
    // A VM's two disks, created through the API; the set fails for real in its snapshot phase, then is moved to
    // where a runner leaves a success: each disk verified, its source LV kept.
    const created = await setup.server.api("/api/migrations", {
      method: "POST",
      body: JSON.stringify({
        sourceHostId: setup.src.id,
        targetHostId: dst.id,
        disks: [
          { source: { vg: "vg0", lv: "web1-disk" }, target: { vg: "vg1", lv: "web1-root" } },
          { source: { vg: "vg0", lv: "data-1" }, target: { vg: "vg1", lv: "web1-data", thinPool: "pool1" } },
        ],
        vm: { controller: "none" },
      }),
    });
    expect(created.status).toBe(201);
    const id = ((await created.json()) as Migration).id;
    await expect.poll(async () => (await getJob(id)).state, { timeout: 30_000 }).toBe("failed");
    const finished = Date.now();
    sql(
      "update job_disks set phase_state = ?, bytes_total = ?, bytes_done = ? where job_id = ? and idx = 1",
      JSON.stringify({ sizeBytes: 64 * MiB, sourceThin: false, verifiedPass: "final", finalCopiedPass: "final" }),
      MiB,
      MiB,
      id,
    );
    moveJob(server, id, {
      state: "succeeded",
      phase: "done",
      phaseState: { sizeBytes: 256 * MiB, sourceThin: false, verifiedPass: "final", finalCopiedPass: "final" },
      bytesTotal: 2 * MiB,
      bytesDone: 2 * MiB,
      outageMs: 5100,
      startedAt: new Date(finished - 120_000).toISOString(),
      finishedAt: new Date(finished).toISOString(),
    });
    // Each disk's verify phase, as the runner stores it: a one-disk event names no disk; a set's name theirs.
    server.runtime.hub.append(id, "job.verified", { phase: "verify", disk: 0, ranges: 12, full: false });
    server.runtime.hub.append(id, "job.verified", { phase: "verify", disk: 1, ranges: 1, full: true });
    server.runtime.hub.append(id, "job.state", { state: "succeeded", phase: "done" });

    await page.goto(`${server.url}/jobs/${id}`);
    await page.getByTestId("finished-facts").waitFor({ timeout: 15_000 });
    const row = async (disk: number) =>
      (await page.getByTestId(`facts-disk-${disk}`).locator("th, td").allTextContents()).join(" | ");
    await expect.poll(() => row(1), { timeout: 15_000 }).toContain("verified");
    expect(await row(0)).toBe(
      "0 | vg0/web1-disk → vg1/web1-root | 256 MiB classic | " +
        "verified: final delta re-hashed on both hosts (12 ranges), all equal | kept on the source host",
    );
    expect(await row(1)).toBe(
      "1 | vg0/data-1 → vg1/web1-data (thin pool pool1) | 64.0 MiB classic | " +
        "verified: whole volume re-hashed on both hosts (1 range), all equal | kept on the source host",
    );
    expect(await page.getByTestId("facts-volume").textContent()).toBe("320 MiB in 2 disks");
    // The list replaces the copy's progress bars, which would show its last pass only.
    expect(await page.getByTestId("disks-panel").count()).toBe(0);
    // What is left to do names the set, not disk 0.
    expect(await page.getByRole("button", { name: "Remove source LVs…" }).count()).toBe(1);
    await screenshot(page, "dashboard-finished-vm");
    expect(errors).toEqual([]);
  }, 90_000);

  it("says a cancel removed the target instead of showing the copy as complete", async () => {
    const id = await failedJob("web1-disk");
    sql(
      "insert into job_objects (job_id, host_id, kind, vg, lv, removed_at) values (?, ?, 'target_lv', 'vg1', 'web1-disk-copy', ?)",
      id,
      dst.id,
      new Date().toISOString(),
    );
    sql(
      "insert into transfer_ranges (job_id, pass, offset, length, sha256, confirmed_at) values (?, 'full-g1', 0, ?, 'h', ?)",
      id,
      256 * MiB,
      new Date().toISOString(),
    );
    sql(
      "update jobs set state='cancelled', error=null, phase_state=?, bytes_total=?, bytes_done=?, finished_at=? where id=?",
      JSON.stringify({ sizeBytes: 256 * MiB }),
      256 * MiB,
      256 * MiB,
      new Date().toISOString(),
      id,
    );
    server.runtime.hub.append(id, "job.state", { state: "cancelled", phase: "snapshot" });
    await page.goto(`${server.url}/jobs/${id}`);
    await page.getByTestId("chunk-map-target-removed").waitFor({ timeout: 15_000 });
    expect(await page.getByTestId("bytes-progress").textContent()).toBe("Target removed");
    expect(await page.locator(".chunk-map").count()).toBe(0);
    await screenshot(page, "dashboard-cancelled-target-removed");
  }, 60_000);

  it("draws an idle stretch of the throughput chart as a gap", async () => {
    const id = await failedJob("scratch");
    // Held running by a runner in another process, so this server's runner leaves it alone.
    sql(
      "update jobs set state='running', phase='full_copy', error=null, phase_state=?, lease_owner='elsewhere', " +
        "lease_expires_at=? where id=?",
      JSON.stringify({ sizeBytes: 32 * MiB }),
      Date.now() + 3_600_000,
      id,
    );
    server.runtime.hub.append(id, "job.phase", { phase: "full_copy" });
    await page.goto(`${server.url}/jobs/${id}`);
    await expect.poll(() => page.locator(".conn").textContent(), { timeout: 15_000 }).toBe("live");
    const chart = page.locator('canvas[aria-label^="Throughput"]');
    let done = 0;
    /** Progress as the copy reports it, one message per ~500 ms, until the chart has drawn `count` more. */
    const burst = async (phase: Migration["phase"], rate: number) => {
      for (let i = 0; i < 6; i++) {
        done += rate / 2;
        server.runtime.hub.progress({
          jobId: id,
          phase,
          bytesDone: Math.min(done, 32 * MiB),
          bytesTotal: 32 * MiB,
          rangesDone: 0,
          rangesTotal: 1,
          bytesPerSecond: rate,
          etaSeconds: 5,
        });
        const before = await page.evaluate("Date.now()");
        // The next report comes when the page has seen this one and half a second has passed on its clock.
        await expect
          .poll(async () => ((await page.evaluate("Date.now()")) as number) - (before as number), { interval: 100 })
          .toBeGreaterThanOrEqual(500);
      }
    };
    await burst("full_copy", 4 * MiB);
    await expect.poll(() => chart.getAttribute("data-segments"), { timeout: 10_000 }).toBe("1");
    // Idle (waiting for the cutover, say): no report for several intervals on the page's clock.
    const idleFrom = (await page.evaluate("Date.now()")) as number;
    await expect
      .poll(async () => ((await page.evaluate("Date.now()")) as number) - idleFrom, { interval: 250, timeout: 10_000 })
      .toBeGreaterThanOrEqual(3_000);
    await burst("final_delta", 2 * MiB);
    await expect.poll(() => chart.getAttribute("data-segments"), { timeout: 10_000 }).toBe("2");
    await chart.screenshot({ path: join(ARTIFACTS, "dashboard-throughput-gap.png") });
    await screenshot(page, "dashboard-throughput-gap-page");
    expect(errors).toEqual([]);
  }, 90_000);
});

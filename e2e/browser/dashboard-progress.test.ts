// Progress while bytes flow: a full copy throttled by the job's bandwidth limit moves the job page's byte figures
// and chunk map while it streams, not only when its batch is confirmed at the end.
// Real server, real sshd, real transfer engine (the server's own mover, journal and event hub), real websocket and
// page. The stand-in LVM tools cannot take a snapshot, so the job is held in its snapshot phase (as in
// dashboard-live) while the test runs the job's full copy through the mover the full_copy phase uses, between two
// files standing in for the source snapshot and the target LV, under the job's lease and bandwidth limit.

import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Host, Migration } from "@blockferry/contracts";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTransferJournal } from "../../apps/server/src/db/repositories/transfer-journal.ts";
import { createTransferMover } from "../../apps/server/src/jobs/transfer-mover.ts";
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

const MiB = 1 << 20;
/** data-1's size in the stand-in fleet: the job's chunk map covers it in 1024 cells of 64 KiB. */
const SIZE = 64 * MiB;
/** About 16 s for the copy: one 64 MiB range, so one batch, confirmed only at its very end. */
const LIMIT = 4 * MiB;

describe("dashboard: progress while a throttled full copy streams", () => {
  let server: DashboardServer;
  let fleet: Fleet;
  let browser: Browser;
  let page: Page;
  let errors: string[];
  let job: Migration;
  let a: Host;
  let b: Host;
  let dir: string;
  const stop = new AbortController();
  let copy: Promise<unknown> | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join("/dev/shm", "bf-progress-"));
    writeFileSync(join(dir, "source.img"), randomBytes(SIZE));
    writeFileSync(join(dir, "target.img"), Buffer.alloc(SIZE));
    [server, fleet, browser] = await Promise.all([startDashboardServer("progress"), startFleet(), launchChromium()]);
    a = await addTrustedHost(server, fleet.sshd, "hv-a");
    b = await addTrustedHost(server, fleet.sshd, "hv-b");
    // Hold the job in its snapshot phase (running, lease held) for longer than the test needs.
    writeFileSync(join(fleet.toolsDir, "lvcreate-delay"), "300\n");
    const res = await server.api("/api/migrations", {
      method: "POST",
      body: JSON.stringify({
        source: { hostId: a.id, vg: "vg0", lv: "data-1" },
        target: { hostId: b.id, vg: "vg1", lv: "data-1" },
        vm: { controller: "none" },
        options: { bandwidthLimitBytesPerSecond: LIMIT },
      }),
    });
    expect(res.ok).toBe(true);
    job = (await res.json()) as Migration;
    ({ page, errors } = await laptopPage(browser));
    await loginAs(page, server);
  }, 90_000);
  afterAll(async () => {
    stop.abort();
    await copy?.catch(() => undefined);
    await browser?.close();
    // sshd first: the held lvcreate dies with it, so the job fails and the runner can stop at once.
    await fleet?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  /** What the page shows of the copy: byte figures, the map's legend, and a checksum of the map's pixels. */
  const observe = async () => {
    const [bytes, confirmed, legend, pixels] = await Promise.all([
      page.getByTestId("bytes-progress").textContent(),
      page.getByTestId("bytes-confirmed").textContent(),
      page.locator(".chunk-map .legend").textContent(),
      // Page-side code is passed as a string: this file is typed for Node, without the DOM library.
      page.evaluate(`(() => {
        const c = document.querySelector(".chunk-map canvas");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let h = 0;
        for (let i = 0; i < d.length; i += 4) h = (h * 31 + d[i] + d[i + 1] * 7 + d[i + 2] * 13) >>> 0;
        return h;
      })()`) as Promise<number>,
    ]);
    return { bytes: bytes ?? "", confirmed: confirmed ?? "", legend: legend ?? "", pixels };
  };

  it("moves the byte figures and the chunk map at least three times before the copy ends", async () => {
    const jobNow = async () => (await (await server.api(`/api/migrations/${job.id}`)).json()) as Migration;
    // Running in its snapshot phase, with the size the prechecks measured (the map needs it).
    await expect
      .poll(
        async () => {
          const j = await jobNow();
          return `${j.state} ${j.phase} ${j.sizeBytes}`;
        },
        { timeout: 30_000 },
      )
      .toBe(`running snapshot ${SIZE}`);
    const lease = (
      server.runtime.db.$client.prepare("SELECT lease_owner AS lease FROM jobs WHERE id = ?").get(job.id) as {
        lease: string | null;
      }
    ).lease;
    expect(lease).toBeTruthy();

    await page.goto(`${server.url}/jobs/${job.id}`);
    await expect.poll(() => page.locator(".conn").textContent(), { timeout: 15_000 }).toBe("live");

    // The copy the full_copy phase runs, through the server's own mover, journal and hub.
    const mover = createTransferMover(server.runtime.remote, createTransferJournal(server.runtime.db));
    let copyEnded = false;
    copy = mover
      .copyFull({
        jobId: job.id,
        lease: lease as string,
        pass: "full-g1",
        source: { hostId: a.id, device: join(dir, "source.img") },
        target: { hostId: b.id, device: join(dir, "target.img") },
        targetReadsZero: false,
        bandwidthBytesPerSecond: (await jobNow()).options.bandwidthLimitBytesPerSecond,
        mapChunkBytes: 64 * 1024,
        bytes: SIZE,
        signal: stop.signal,
        // As the full_copy phase forwards it (copyRequest): with the job, its phase and the pass.
        onProgress: (p) => server.runtime.hub.progress({ ...p, jobId: job.id, phase: "full_copy", pass: "full-g1" }),
      })
      .finally(() => {
        copyEnded = true;
      });

    // The map appears once the job's size is known to the page (the copy's first progress message at the latest).
    await page.locator(".chunk-map canvas").waitFor({ timeout: 15_000 });
    let last = await observe();
    const steps: Awaited<ReturnType<typeof observe>>[] = [];
    for (let step = 1; step <= 3; step++) {
      let seen = last;
      await expect
        .poll(
          async () => {
            seen = await observe();
            return seen.bytes !== last.bytes && seen.pixels !== last.pixels && seen.legend !== last.legend;
          },
          { timeout: 20_000, interval: 250 },
        )
        .toBe(true);
      // Seen while the copy still streams: nothing is confirmed before its one batch is read back.
      expect(copyEnded).toBe(false);
      expect(seen.confirmed).toMatch(/^0 B? ?confirmed$/);
      expect(seen.legend).toMatch(/in flight [1-9]\d*\.\d%/);
      await expect(page.getByTestId("bytes-streamed").textContent()).resolves.toMatch(/streamed, awaiting read-back/);
      // The figures say which pass they count.
      expect(await page.getByTestId("copy-pass").textContent()).toBe("full copy");
      await screenshot(page, `dashboard-progress-step-${step}`);
      steps.push(seen);
      last = seen;
    }
    const streamedPercent = steps.map((s) => Number(/\(([\d.]+)%\)/.exec(s.bytes)?.[1]));
    expect(streamedPercent[0]).toBeGreaterThan(0);
    expect(streamedPercent[1]).toBeGreaterThan(streamedPercent[0] as number);
    expect(streamedPercent[2]).toBeGreaterThan(streamedPercent[1] as number);
    // The measured rate respects the limit; an ETA is shown.
    const rate = (await page.getByTestId("rate").textContent()) ?? "";
    const [, value, unit] = /([\d.]+) (B|KiB|MiB)\/s/.exec(rate) ?? [];
    expect(Number(value) * { B: 1, KiB: 1024, MiB: MiB }[unit as "B"]).toBeLessThanOrEqual(LIMIT * 1.05);
    expect(Number(value)).toBeGreaterThan(0);
    expect(await page.getByTestId("eta").textContent()).not.toBe("–");

    await copy;
    expect(readFileSync(join(dir, "target.img")).equals(readFileSync(join(dir, "source.img")))).toBe(true);
    await expect
      .poll(() => page.getByTestId("bytes-confirmed").textContent(), { timeout: 15_000 })
      .toMatch(/^64(\.0)? MiB confirmed$/);
    await expect
      .poll(() => page.locator(".chunk-map .legend").textContent(), { timeout: 15_000 })
      .toMatch(/in flight 0\.0%.*copied 100\.0%/);
    expect(await page.getByTestId("bytes-progress").textContent()).toContain("(100.0%)");
    await screenshot(page, "dashboard-progress-confirmed");
    expect(errors).toEqual([]);
  }, 120_000);
});

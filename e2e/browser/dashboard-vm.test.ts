// A whole VM through the wizard: the source host's libvirt VMs from its inventory, each with its disks (an LV disk's
// size and kind, a disk that stays behind with its reason, a VM that cannot move with its reason); the VM picked,
// a destination per disk, libvirt for that VM, review with the set's prechecks, and the disk set it starts. Then
// its job page during the copy: both disks with their progress, and a chunk map per disk.
// Real server, real sshd (stand-in LVM and virsh tools, so the job fails for real in its snapshot phase: no
// device-mapper here); the job is then moved into its full copy in SQLite under another process's lease and its
// disks' progress sent through the server's event hub, as in dashboard-screens. Real LVM and libvirt: e2e/tests.
// Last, a VM whose network hv-dst lacks: the review's VM networks precheck fails, the network is mapped there and
// the prechecks pass; moved as a maintenance move (left shut off on hv-dst).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Migration, ProgressMessage } from "@blockferry/contracts";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FLEET_DOMAINS,
  jobOf,
  loginAs,
  lvRow,
  moveJob,
  screenshot,
  startTwoHostDashboard,
  type TwoHostDashboard,
} from "./dashboard-support.ts";

const MiB = 2 ** 20;
const CHUNK = 64 * 1024;
/** db1's disks on hv-src: a classic root LV and a thin data LV in vg0's own pool. */
const ROOT = 128 * MiB;
const DATA = 64 * MiB;
/** app1's disk on hv-src: its interfaces attach to libvirt's default network, which hv-dst has, and prod-net. */
const APP = 32 * MiB;
/** An installer image in db1's CD-ROM drive: both stand-in hosts are this machine, so the target has it too. */
const ISO = join(mkdtempSync(join(tmpdir(), "bf-iso-")), "installer.iso");
writeFileSync(ISO, "not really an ISO\n");

describe("dashboard: a whole VM, from the wizard to its job page", () => {
  let setup: TwoHostDashboard;
  let server: TwoHostDashboard["server"];
  let page: Page;
  let errors: string[];
  let job: Migration;

  beforeAll(async () => {
    // hv-dst has vg1 only (with pool1): the classic disk goes to VG vg1, the thin one to its pool, by default.
    setup = await startTwoHostDashboard("vm", {
      targetVgs: ["vg1"],
      targetNetworks: ["default", "lab-net"],
      sourceExtras: {
        lvs: [
          lvRow({ lv_name: "app1-root", lv_attr: "-wi-ao----", lv_size: String(APP) }),
          lvRow({ lv_name: "db1-root", lv_attr: "-wi-ao----", lv_size: String(ROOT) }),
          lvRow({
            lv_name: "pool0",
            lv_attr: "twi-aotz--",
            segtype: "thin-pool",
            data_percent: "10.00",
            metadata_percent: "2.00",
            chunk_size: "65536",
            lv_size: String(2 ** 30),
          }),
          lvRow({
            lv_name: "db1-data",
            lv_attr: "Vwi-aotz--",
            segtype: "thin",
            pool_lv: "pool0",
            lv_size: String(DATA),
          }),
        ],
        domains: [
          ...FLEET_DOMAINS,
          {
            name: "db1",
            state: "running",
            disks: [
              { type: "block", device: "disk", target: "vda", source: "/dev/vg0/db1-root" },
              { type: "block", device: "disk", target: "vdb", source: "/dev/vg0/db1-data" },
              { type: "file", device: "cdrom", target: "sda", source: ISO },
            ],
          },
          {
            name: "app1",
            state: "running",
            disks: [{ type: "block", device: "disk", target: "vda", source: "/dev/vg0/app1-root" }],
            interfaces: [
              { type: "network", source: "default", mac: "52:54:00:00:01:01" },
              { type: "network", source: "prod-net", mac: "52:54:00:00:01:02" },
            ],
          },
          {
            name: "files1",
            state: "shut off",
            disks: [{ type: "file", device: "disk", target: "vda", source: "/var/lib/libvirt/images/files1.qcow2" }],
          },
        ],
      },
    });
    ({ server, page, errors } = setup);
    await loginAs(page, server);
  }, 90_000);
  afterAll(async () => {
    await setup?.close();
    rmSync(dirname(ISO), { recursive: true, force: true });
  });

  it("lists the VMs with their disks, refuses what cannot move with the reason, and starts the VM's disk set", async () => {
    await page.goto(`${server.url}/migrations/new`);
    await page.getByRole("radio", { name: /hv-src/ }).check({ timeout: 15_000 });
    // A host with libvirt VMs offers a VM first.
    const pickVm = page.getByRole("radio", { name: /^A VM/ });
    await pickVm.waitFor({ timeout: 20_000 });
    expect(await pickVm.isChecked()).toBe(true);

    const db1 = page.getByRole("radio", { name: /^VM db1/ });
    const db1Card = page.locator("label.choice").filter({ has: db1 });
    const card = (await db1Card.textContent()) ?? "";
    expect(card).toContain("running · 2 disks, 192 MiB");
    expect(card).toContain("vda: vg0/db1-root · 128 MiB · classic");
    expect(card).toContain("vdb: vg0/db1-data · 64.0 MiB · thin");
    expect(card).toContain(`sda: not moved: a cdrom image (${ISO}), not moved: the target needs it at the same path`);
    // A VM on an image file cannot move: shown, with the reason, and not offered.
    const files1 = page.getByRole("radio", { name: /^VM files1/ });
    expect(await files1.isDisabled()).toBe(true);
    expect(await page.locator("label.choice").filter({ has: files1 }).textContent()).toContain(
      "cannot be migrated: disk vda: a file (/var/lib/libvirt/images/files1.qcow2), not a logical volume: only LVs can be migrated (the VM cannot start without it)",
    );
    await screenshot(page, "dashboard-vm-1-what");
    // Picked by hand, one of db1's disks alone is called out: the VM would start without the other.
    await page.getByRole("radio", { name: /^Logical volumes/ }).check();
    await page.getByRole("checkbox", { name: /^vg0\/db1-root/ }).check();
    const partly = page.getByTestId("vm-partly-picked");
    expect(await partly.textContent()).toContain("VM db1 also has vdb (vg0/db1-data), not picked");
    await screenshot(page, "dashboard-vm-1-what-lvs");
    await partly.getByRole("button", { name: "Move VM db1 with all its disks" }).click();
    expect(await pickVm.isChecked()).toBe(true);
    expect(await db1.isChecked()).toBe(true);
    await page.getByRole("button", { name: /^Next:/ }).click();

    // Screen 2: one group per disk, each with its destination and name; libvirt for db1.
    const disk0 = page.getByRole("group", { name: "Disk 0: vda · vg0/db1-root" });
    const disk1 = page.getByRole("group", { name: "Disk 1: vdb · vg0/db1-data" });
    await disk0.getByRole("radio", { name: /^VG vg1/ }).waitFor({ timeout: 20_000 });
    expect(await disk0.getByRole("radio", { name: /^VG vg1/ }).isChecked()).toBe(true);
    expect(await disk1.getByRole("radio", { name: /^thin pool vg1\/pool1/ }).isChecked()).toBe(true);
    expect(await disk0.getByLabel("Name of the new LV").inputValue()).toBe("db1-root");
    expect(await disk1.getByLabel("Name of the new LV").inputValue()).toBe("db1-data");
    expect(await page.getByRole("radio", { name: /libvirt/ }).isChecked()).toBe(true);
    expect(await page.getByLabel("Domain").inputValue()).toBe("db1");
    // Two disks may not land on one LV: told at the field, and Next waits.
    await disk1.getByLabel("Name of the new LV").fill("db1-root");
    await disk1.getByRole("radio", { name: /^VG vg1/ }).check();
    await disk1.getByTestId("name-shared").waitFor();
    expect(await page.getByRole("button", { name: /^Next:/ }).isDisabled()).toBe(true);
    await disk1.getByLabel("Name of the new LV").fill("db1-data");
    await disk1.getByRole("radio", { name: /^thin pool vg1\/pool1/ }).check();
    await screenshot(page, "dashboard-vm-2-where");
    await page.getByRole("button", { name: /^Next:/ }).click();

    // Screen 3: the disks, the VM's commands with both paths rewritten, and prechecks per disk.
    expect(await page.getByTestId("review-vm").textContent()).toBe("db1 on hv-src, 2 disks (192 MiB)");
    expect(await page.getByTestId("review-left-behind").textContent()).toBe(
      `sda: a cdrom image (${ISO}), not moved: the target needs it at the same path`,
    );
    const disks = await page.getByTestId("review-disks").textContent();
    expect(disks).toContain("disk 0 (vda): hv-src vg0/db1-root (128 MiB) → hv-dst vg1/db1-root");
    expect(disks).toContain("disk 1 (vdb): hv-src vg0/db1-data (64.0 MiB) → hv-dst vg1/db1-data in thin pool pool1");
    expect(await page.getByTestId("start-commands").textContent()).toContain(
      "/dev/vg0/db1-root replaced by /dev/vg1/db1-root, /dev/vg0/db1-data replaced by /dev/vg1/db1-data",
    );
    const checks = page.getByRole("list", { name: "Precheck results" });
    await checks.waitFor({ timeout: 30_000 });
    const text = (await checks.textContent()) ?? "";
    expect(text).toContain("disk 0 (vda) · source volume");
    expect(text).toContain("disk 1 (vdb) · source volume");
    expect(text).toContain("target room (all disks)");
    expect(text).toContain(`VM media passed: hv-dst has the inserted media at the same paths: ${ISO}`);
    expect(await checks.locator("li.bad").count()).toBe(0);
    await screenshot(page, "dashboard-vm-3-review");

    await page.getByRole("button", { name: "Start migration" }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    job = await jobOf(server, Number(page.url().split("/").pop()));
    expect(job.vm).toMatchObject({ controller: "libvirt", domain: "db1" });
    expect(job.disks.map((d) => [d.source, d.target])).toEqual([
      [
        { vg: "vg0", lv: "db1-root" },
        { vg: "vg1", lv: "db1-root", thinPool: null },
      ],
      [
        { vg: "vg0", lv: "db1-data" },
        { vg: "vg1", lv: "db1-data", thinPool: "pool1" },
      ],
    ]);
  });

  it("shows both disks with their progress while they copy, and a chunk map per disk", async () => {
    // The job fails for real in its snapshot phase (no device-mapper); then it is moved into its full copy.
    await expect.poll(async () => (await jobOf(server, job.id)).state, { timeout: 30_000 }).toBe("failed");
    moveJob(server, job.id, {
      state: "running",
      phase: "full_copy",
      phaseState: { sizeBytes: ROOT, sourceThin: false, snapshotLv: "db1-root-bf" },
      bytesTotal: ROOT,
      bytesDone: 0,
      startedAt: new Date(Date.now() - 40_000).toISOString(),
    });
    server.runtime.db.$client
      .prepare("update job_disks set phase_state = ?, bytes_total = ? where job_id = ? and idx = 1")
      .run(JSON.stringify({ sizeBytes: DATA, sourceThin: true, snapshotLv: "db1-data-bf" }), DATA, job.id);
    await page.goto(`${server.url}/jobs/${job.id}`);
    await expect.poll(() => page.locator(".conn").textContent(), { timeout: 15_000 }).toBe("live");

    const panel = page.getByTestId("disks-panel");
    await panel.waitFor();
    expect(await page.getByRole("heading", { level: 2 }).textContent()).toBe(`Migration #${job.id}: VM db1 · 2 disks`);
    // Each disk's copy reports its own counters and its pass: the page shows each with the pass it counts, and
    // their sum as the job's. Disk 1 copies in full again: its first snapshot overflowed (a fallback).
    const cells = { 0: ROOT / CHUNK, 1: DATA / CHUNK } as const;
    const passes = { 0: "full-g1", 1: "full-g2" } as const;
    const progressOf = (disk: 0 | 1, done: number, inFlight: number): ProgressMessage => ({
      jobId: job.id,
      phase: "full_copy",
      disk,
      pass: passes[disk],
      bytesDone: done * CHUNK,
      bytesTotal: cells[disk] * CHUNK,
      rangesDone: done,
      rangesTotal: cells[disk],
      bytesPerSecond: 20 * MiB,
      etaSeconds: ((cells[disk] - done) * CHUNK) / (20 * MiB),
      doneRuns: [[0, done]],
      bytesStreamed: inFlight * CHUNK,
      inFlightRuns: [[done, inFlight]],
    });
    // Sent again on every look: the first message of a pass makes the page fetch the map again, which starts from
    // what the server journaled (nothing, here).
    const copying = () => {
      server.runtime.hub.progress(progressOf(0, 1024, 128)); // 64 MiB of 128 confirmed, 8 MiB streamed
      server.runtime.hub.progress(progressOf(1, 256, 64)); // 16 MiB of 64 confirmed, 4 MiB streamed
    };
    const progressCell = (disk: 0 | 1) => page.getByTestId(`disk-row-${disk}`).locator(".progress-cell");
    const figures = async () =>
      [
        await progressCell(0).textContent(),
        await progressCell(1).textContent(),
        await page.getByTestId("bytes-progress").textContent(),
      ].join(" | ");
    await expect
      .poll(
        () => {
          copying();
          return figures();
        },
        { timeout: 10_000 },
      )
      .toBe(
        "72.0 MiB of 128 MiB (56.3%) · full copy | 20.0 MiB of 64.0 MiB (31.3%) · full copy again (snapshot 2) | " +
          "92.0 MiB of 192 MiB (47.9%)",
      );
    // The set's total sums passes of its own per disk: it names none.
    expect(await page.getByTestId("copy-pass").count()).toBe(0);
    expect(await page.getByTestId("disk-state-0").textContent()).toBe("copying");
    expect(await page.getByTestId("disk-state-1").textContent()).toBe("copying");
    expect(await page.getByTestId("disk-row-1").textContent()).toContain("→ vg1/db1-data (thin pool pool1)");
    expect(await page.getByTestId("rate").textContent()).toBe("40.0 MiB/s");

    // The chunk map is disk 0's, then disk 1's behind its tab: each drawn with its own disk's cells.
    const canvas = page.locator(".chunk-map canvas");
    await expect
      .poll(
        () => {
          copying();
          return canvas.getAttribute("aria-label");
        },
        { timeout: 10_000 },
      )
      .toMatch(/^Chunk map of disk 0 \(vg0\/db1-root\) of 2048 chunks of 64\.0 KiB: 50\.0% copied, 6\.3% in flight/);
    // Each disk's snapshot fills on its own: the gauge shows the fullest, and says which.
    server.runtime.hub.append(job.id, "job.snapshot", {
      phase: "full_copy",
      disk: 0,
      snapshot: "db1-root-bf",
      fillPercent: 12.5,
    });
    server.runtime.hub.append(job.id, "job.snapshot", {
      phase: "full_copy",
      disk: 1,
      snapshot: "db1-data-bf",
      fillPercent: 31,
    });
    const gauge = page.locator(".gauge");
    await expect.poll(() => gauge.textContent(), { timeout: 10_000 }).toContain("snapshot fill (disk 1, the fullest)");
    expect(await gauge.locator("meter").textContent()).toBe("31.0%");
    await screenshot(page, "dashboard-vm-4-job-mid-copy");
    await page.getByRole("tab", { name: "disk 1 · vg0/db1-data" }).click();
    await expect
      .poll(() => canvas.getAttribute("aria-label"), { timeout: 10_000 })
      .toMatch(/^Chunk map of disk 1 \(vg0\/db1-data\) of 1024 chunks of 64\.0 KiB: /);
    // Runs reported after the switch land on the disk they belong to.
    await expect
      .poll(
        () => {
          server.runtime.hub.progress(progressOf(1, 512, 0));
          return Promise.all([canvas.getAttribute("aria-label"), page.getByTestId("disk-progress-1").textContent()]);
        },
        { timeout: 10_000 },
      )
      .toEqual([expect.stringMatching(/: 50\.0% copied, 0\.0% in flight/), "32.0 MiB of 64.0 MiB (50.0%)"]);
    await screenshot(page, "dashboard-vm-5-job-disk-1");

    // The list says what moves (by host name once the hosts have loaded: "#1" until then).
    await page.goto(`${server.url}/jobs`);
    await expect
      .poll(() => page.getByTestId(`job-row-${job.id}`).textContent(), { timeout: 15_000 })
      .toContain("hv-src:VM db1 · 2 disks");
    expect(errors).toEqual([]);
  });

  it("maps a network the destination lacks in the review, and starts a maintenance move that leaves the VM shut off", async () => {
    await page.goto(`${server.url}/migrations/new`);
    await page.getByRole("radio", { name: /hv-src/ }).check({ timeout: 15_000 });
    await page.getByRole("radio", { name: /^VM app1/ }).check({ timeout: 20_000 });
    await page.getByRole("button", { name: /^Next:/ }).click();
    // Screen 2: libvirt for app1, and the maintenance move asked for.
    await page.getByRole("radio", { name: /^VG vg1/ }).waitFor({ timeout: 20_000 });
    expect(await page.getByRole("radio", { name: /libvirt/ }).isChecked()).toBe(true);
    await page.getByLabel("Leave the VM shut off on the destination (maintenance move)").check();
    await page.getByRole("button", { name: /^Next:/ }).click();

    // Screen 3: no virsh start on hv-dst, said in words; prod-net is missing there.
    expect(await page.getByTestId("review-vm-control").textContent()).toBe(
      "libvirt stops domain app1 and defines it on hv-dst, left shut off there (maintenance move)",
    );
    const starts = (await page.getByTestId("start-commands").textContent()) ?? "";
    expect(starts).toContain("'virsh' '--quiet' 'define' '/dev/stdin'");
    expect(starts).not.toContain("'start'");
    expect(await page.getByTestId("start-note").textContent()).toBe(
      "No virsh start: the VM stays shut off on hv-dst (maintenance move); start it there yourself.",
    );
    expect(await page.getByTestId("review-networks").textContent()).toBe("as on hv-src");
    const checks = page.getByRole("list", { name: "Precheck results" });
    await checks.waitFor({ timeout: 30_000 });
    const networks = checks.locator("li").filter({ hasText: "VM networks" });
    expect(await networks.getAttribute("class")).toBe("bad");
    expect(await networks.textContent()).toContain(
      "interface 52:54:00:00:01:02 (network prod-net): hv-dst has no network prod-net",
    );
    expect(await checks.locator("li.bad").count()).toBe(1);
    expect(await page.getByRole("button", { name: "Start migration" }).isDisabled()).toBe(true);
    // One row, for the network hv-dst lacks (default it has), offering what hv-dst has.
    const mapping = page.getByRole("region", { name: "Networks on hv-dst" });
    expect(await mapping.locator("input").count()).toBe(1);
    expect(await mapping.textContent()).toContain("hv-dst has: default, lab-net");
    await screenshot(page, "dashboard-vm-6-review-network-missing");

    await mapping.getByLabel("network prod-net on hv-src").fill("lab-net");
    await mapping.getByRole("button", { name: "Map and re-run prechecks" }).click();
    await expect
      .poll(() => checks.locator("li").filter({ hasText: "VM networks" }).textContent(), { timeout: 30_000 })
      .toContain("VM networks passed: hv-dst has what the 2 interfaces attach to (mapped: prod-net -> lab-net)");
    expect(await checks.locator("li.bad").count()).toBe(0);
    expect(await page.getByTestId("review-networks").textContent()).toBe("prod-net on hv-src → lab-net on hv-dst");
    expect(await page.getByTestId("start-commands").textContent()).toContain("network prod-net replaced by lab-net");
    // The mapping stays on show, to change or clear.
    expect(await mapping.getByLabel("network prod-net on hv-src").inputValue()).toBe("lab-net");
    await screenshot(page, "dashboard-vm-7-review-network-mapped");

    await page.getByRole("button", { name: "Start migration" }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    const created = await jobOf(server, Number(page.url().split("/").pop()));
    expect(created.vm).toEqual({
      controller: "libvirt",
      domain: "app1",
      shutdownTimeoutSeconds: 120,
      undefineSource: false,
      startTarget: false,
      networkMap: { "prod-net": "lab-net" },
    });
    await expect
      .poll(() => page.getByRole("heading", { level: 2 }).locator("..").textContent(), { timeout: 15_000 })
      .toContain("VM app1 stopped by libvirt, left shut off on the target");
    expect(errors).toEqual([]);
  });
});

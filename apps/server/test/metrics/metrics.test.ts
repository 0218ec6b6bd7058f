// /metrics end to end: the real app on a port, scraped over HTTP and read back with a Prometheus text-format
// parser, while a migration's full copy runs through the real transfer engine over a loopback sshd into the
// runtime's own journal (the one that feeds the bytes-copied counter).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Migration } from "@blockferry/contracts";
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import { createTransferJournal, type TransferJournal } from "../../src/db/repositories/transfer-journal.ts";
import { hosts } from "../../src/db/schema.ts";
import { createTransferMover } from "../../src/jobs/transfer-mover.ts";
import { copyFull } from "../../src/transfer/engine.ts";
import { type TestApp, testApp } from "../support/helpers.ts";
import { QUIET_SHELL, testHost } from "../transfer/support/hosts.ts";

vi.setConfig({ testTimeout: 120_000 });
const MiB = 1 << 20;

/** One sample's value of a family, by its labels; 0 when the series is absent. */
function sampleOf(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? sample?.count ?? 0);
}
const histogramOf = (families: ParsedFamily[], name: string, labels: Record<string, string> = {}) => {
  const sample = families
    .find((f) => f.name === name)
    ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return { count: Number(sample?.count ?? 0), sum: Number(sample?.sum ?? 0) };
};

describe("/metrics", () => {
  let t: TestApp;
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await t?.close();
  });

  it("moves while a migration copies and changes state; needs a token", async () => {
    let journal: TransferJournal | undefined;
    t = await testApp({
      // The server's own mover (server.ts builds the same); the test also keeps its journal to copy through.
      createMover: (remote, db, onConfirmedBytes) => {
        journal = createTransferJournal(db, undefined, onConfirmedBytes);
        return createTransferMover(remote, journal);
      },
    });
    const base = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const scrapeText = async (): Promise<string> => {
      const r = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${t.adminToken}` } });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
      return r.text();
    };
    const scrape = async (): Promise<ParsedFamily[]> => parsePrometheusTextFormat(await scrapeText());

    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const viewer = await t.tokenFor("viewer");
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${viewer}` } })).status).toBe(200);

    const [a, b] = ["a", "b"].map(
      (name) => t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id,
    ) as [number, number];
    const created = await t.inject({
      method: "POST",
      url: "/api/migrations",
      payload: {
        source: { hostId: a, vg: "vg0", lv: "vm1" },
        target: { hostId: b, vg: "vg0" },
        vm: { controller: "none" },
      },
    });
    const migration = created.json() as Migration;

    const before = await scrape();
    expect(sampleOf(before, "blockferry_migrations", { state: "queued" })).toBe(1);
    expect(sampleOf(before, "blockferry_migrations", { state: "running" })).toBe(0);
    expect(sampleOf(before, "blockferry_bytes_copied_total", { path: "relay" })).toBe(0);
    expect(sampleOf(before, "blockferry_ssh_connections_open")).toBe(0);
    expect(before.some((f) => f.name === "process_cpu_user_seconds_total")).toBe(true);

    // The job starts its full copy (rows and events as the executor writes them) ...
    t.db.$client.prepare("update jobs set state = 'running', phase = 'full_copy' where id = ?").run(migration.id);
    t.hub.append(migration.id, "job.state", { state: "running", phase: "full_copy" });
    t.hub.append(migration.id, "job.phase", { phase: "full_copy" });
    // ... and copies 8 MiB through the real engine over SSH into the runtime's journal.
    const sshd = await startLoopbackSshd(QUIET_SHELL);
    const [src, dst] = [testHost(sshd), testHost(sshd)];
    const dir = mkdtempSync(join("/dev/shm", "bf-metrics-"));
    cleanups.push(
      () => sshd.stop(),
      () => src.close(),
      () => dst.close(),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    writeFileSync(join(dir, "src.img"), randomBytes(8 * MiB));
    writeFileSync(join(dir, "dst.img"), Buffer.alloc(8 * MiB, 0x5a));
    if (!journal) throw new Error("the runtime built no mover");
    await copyFull({
      source: { host: src, device: join(dir, "src.img") },
      target: { host: dst, device: join(dir, "dst.img") },
      journal,
      jobId: migration.id,
      pass: "full",
      bytes: 8 * MiB,
      rangeBytes: 2 * MiB,
      blockBytes: MiB,
    });
    t.hub.append(migration.id, "job.phase", { phase: "stop_vm" });
    t.hub.append(migration.id, "job.outage", { phase: "start_vm", outageMs: 1500, predictedOutageSeconds: 2 });

    const afterText = await scrapeText();
    const after = parsePrometheusTextFormat(afterText);
    expect(sampleOf(after, "blockferry_bytes_copied_total", { path: "relay" })).toBe(8 * MiB);
    expect(sampleOf(after, "blockferry_migrations", { state: "queued" })).toBe(0);
    expect(sampleOf(after, "blockferry_migrations", { state: "running" })).toBe(1);
    // The parser folds a labelled histogram into one sample of buckets (it drops labels, count and sum): the
    // phase label is checked on the text, the observation count on the parsed +Inf bucket.
    const phases = after.find((f) => f.name === "blockferry_phase_duration_seconds");
    expect(phases?.type).toBe("HISTOGRAM");
    expect(phases?.metrics[0]?.buckets?.["+Inf"]).toBe("1");
    expect(afterText).toMatch(/^blockferry_phase_duration_seconds_count\{phase="full_copy"\} 1$/m);
    expect(histogramOf(after, "blockferry_outage_seconds")).toEqual({ count: 1, sum: 1.5 });
    // Measured minus predicted, at the end of the cutover.
    expect(histogramOf(after, "blockferry_outage_prediction_error_seconds")).toEqual({ count: 1, sum: -0.5 });

    // An event stream client is counted while it is connected.
    const ws = new WebSocket(`${base.replace("http", "ws")}/api/events/stream`, {
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    expect(sampleOf(await scrape(), "blockferry_event_stream_clients")).toBe(1);
    const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    ws.close();
    await closed;
    // The server sees the close a moment later: scrape until it has.
    let clients = 1;
    for (const deadline = Date.now() + 5000; clients !== 0 && Date.now() < deadline; ) {
      clients = sampleOf(await scrape(), "blockferry_event_stream_clients");
      if (clients !== 0) await new Promise((r) => setImmediate(r));
    }
    expect(clients).toBe(0);
  });

  it("keeps one registry per app: two apps in one process count apart", async () => {
    t = await testApp();
    const other = await testApp();
    cleanups.push(() => other.close());
    other.runtime.metrics.bytesCopied("relay", 4096);
    const text = (await t.inject({ method: "GET", url: "/metrics" })).body;
    expect(sampleOf(parsePrometheusTextFormat(text), "blockferry_bytes_copied_total", { path: "relay" })).toBe(0);
    const otherText = (await other.inject({ method: "GET", url: "/metrics" })).body;
    expect(sampleOf(parsePrometheusTextFormat(otherText), "blockferry_bytes_copied_total", { path: "relay" })).toBe(
      4096,
    );
  });
});

// Dashboard benchmarks: production bundle size (raw and gzip -9), time to first render in headless Chromium
// against the real server (navigation start -> first contentful paint, -> app shell rendered, -> first data
// rendered), and the chunk-map model marking and painting a million chunks. One JSON line per result.
// Run: pnpm bench web   (builds apps/web first; needs /usr/bin/chromium)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { loadConfig, startServer } from "../apps/server/src/index.ts";
import { ChunkMapModel, COPIED, VERIFIED } from "../apps/web/src/lib/chunk-map.ts";
import type * as Playwright from "../e2e/node_modules/playwright-core";

const root = join(import.meta.dirname, "..");
// playwright-core is a dependency of the e2e package; resolve it from there.
const { chromium } = createRequire(join(root, "e2e/package.json"))("playwright-core") as typeof Playwright;
const RUNS = 10;

function emit(result: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

function bundle(): void {
  execFileSync("pnpm", ["--filter", "@blockferry/web", "build"], { cwd: root, stdio: "ignore" });
  const dir = join(root, "apps/web/dist/assets");
  let raw = 0;
  let gz = 0;
  for (const f of readdirSync(dir)) {
    const bytes = readFileSync(join(dir, f));
    const g = gzipSync(bytes, { level: 9 }).length;
    raw += bytes.length;
    gz += g;
    emit({ name: "web bundle file", file: f.replace(/-[A-Za-z0-9_-]{8}\./, "."), bytes: bytes.length, gzipBytes: g });
  }
  emit({ name: "web bundle total", bytes: raw, gzipBytes: gz, kib: r1(raw / 1024), gzipKib: r1(gz / 1024) });
}

/** Records, inside the page, when the app shell and the first data first appear (a MutationObserver, no polling). */
const MARKS = `
  window.__marks = {};
  new MutationObserver(() => {
    const m = window.__marks;
    if (m.shell === undefined && document.querySelector("main h2")) m.shell = performance.now();
    if (m.data === undefined && document.querySelector("main table, main .empty")) m.data = performance.now();
  }).observe(document, { subtree: true, childList: true });
`;

async function firstRender(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "bf-web-bench-"));
  const server = await startServer(
    loadConfig(["--port", "0", "--data-dir", dataDir], { BLOCKFERRY_LOG_LEVEL: "warn" }),
  );
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  try {
    const fcp: number[] = [];
    const shell: number[] = [];
    const data: number[] = [];
    const dcl: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      // A fresh context each time: cold HTTP cache, like a first visit.
      const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      const page = await context.newPage();
      await page.addInitScript(MARKS);
      await page.goto(`${server.url}/jobs`);
      await page.waitForSelector("main table, main .empty");
      await page.waitForFunction(`performance.getEntriesByName("first-contentful-paint").length > 0`);
      // A string, not a function: this file is typed for Node, and the expression runs in the page.
      const t = (await page.evaluate(`(() => {
        const nav = performance.getEntriesByType("navigation")[0];
        return {
          fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN,
          dcl: nav.domContentLoadedEventEnd,
          shell: window.__marks.shell,
          data: window.__marks.data,
        };
      })()`)) as { fcp: number; dcl: number; shell: number; data: number };
      await context.close();
      if (i === 0) continue; // warm-up: the server's first requests and Chromium's first context
      fcp.push(t.fcp);
      shell.push(t.shell);
      data.push(t.data);
      dcl.push(t.dcl);
    }
    emit({
      name: "web first render (headless chromium, loopback, cold cache, median of 10)",
      domContentLoadedMs: r1(median(dcl)),
      firstContentfulPaintMs: r1(median(fcp)),
      appShellRenderedMs: r1(median(shell)),
      firstDataRenderedMs: r1(median(data)),
      maxFirstDataRenderedMs: r1(Math.max(...data)),
    });
  } finally {
    await browser.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function chunkMapOnce() {
  const total = 1_000_000;
  const runs: [number, number][] = [];
  for (let i = 0; i < total / 100; i++) runs.push([i * 100, 100]);
  const t0 = performance.now();
  const model = new ChunkMapModel(total, 720, 180);
  model.paint();
  const t1 = performance.now();
  model.mark(runs, COPIED);
  const t2 = performance.now();
  model.paint();
  const t3 = performance.now();
  // A typical live message: a few runs somewhere in the volume, then one frame's repaint.
  model.mark(
    [
      [123_456, 64],
      [500_000, 8],
      [999_000, 512],
    ],
    VERIFIED,
  );
  model.paint();
  const t4 = performance.now();
  return { build: t1 - t0, markAll: t2 - t1, repaintAll: t3 - t2, live: t4 - t3, cpb: model.layout.chunksPerBucket };
}

function chunkMap(): void {
  const rounds = Array.from({ length: 7 }, chunkMapOnce);
  const cold = rounds[0] as ReturnType<typeof chunkMapOnce>;
  const warm = rounds.slice(1);
  const med = (k: "build" | "markAll" | "repaintAll" | "live") => median(warm.map((r) => r[k]));
  emit({
    name: "web chunk map model, 1,000,000 chunks on 720x180 (median of 6 warm rounds; cold = first round)",
    buildAndFirstPaintMs: r1(med("build")),
    markAllIn10000RunsMs: r1(med("markAll")),
    repaintAllMs: r1(med("repaintAll")),
    liveUpdateMarkAndPaintMs: Math.round(med("live") * 1000) / 1000,
    coldMarkAllMs: r1(cold.markAll),
    chunksPerPixel: cold.cpb,
  });
}

bundle();
chunkMap();
await firstRender();

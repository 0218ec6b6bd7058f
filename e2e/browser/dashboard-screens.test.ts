// The dashboard at 1440, 1024 and 800 px, in the light and the dark scheme: the wizard, a live job and a finished
// job, each screenshot kept in test-results/ (the CI artefacts) and each checked for layout facts a screenshot alone
// would only show: no sideways page scroll, the timeline's last phase on screen, the chunk map drawn 1:1 in whole
// cells (even columns), the dark palette really applied, and readable text contrast in a sample of elements.
// Real server, real sshd (stand-in LVM tools, so jobs fail for real in their snapshot phase); the two jobs are then
// moved on in SQLite under another process's lease and announced through the server's event hub, as in
// dashboard-no-return, and the live one gets copy progress through the hub, as in dashboard-live.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  failedJob as failedJobOf,
  type JobMove,
  loginAs,
  moveJob,
  screenshot,
  startTwoHostDashboard,
  type TwoHostDashboard,
} from "./dashboard-support.ts";

const MiB = 2 ** 20;
/** The volumes' sizes in the stand-in fleet (FLEET in dashboard-support). */
const SIZES = { "web1-disk": 256 * MiB, "data-1": 64 * MiB } as const;
/** The server's map chunk for volumes this small: the live job's map has 4096 cells. */
const CHUNK = 64 * 1024;
const LIVE_CHUNKS = SIZES["web1-disk"] / CHUNK;
const WIDTHS = [1440, 1024, 800] as const;
const SCHEMES = ["light", "dark"] as const;

/** Relative luminance (WCAG) of an "rgb(r, g, b)" string. */
const luminance = (rgb: string): number => {
  const [r = 0, g = 0, b = 0] = (rgb.match(/[\d.]+/g) ?? []).map(Number).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

interface TextSample {
  what: string;
  text: string;
  ratio: number;
}

// Page-side code is passed as strings: this file is typed for Node, without the DOM library.

/** Text contrast of visible elements: each text colour against the first opaque background behind it. */
const CONTRAST_PROBE = `(() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.match(/[\\d.]+/g).slice(0, 3).map(Number).map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const alpha = (c) => (c.startsWith("rgba") || c.includes("/") ? Number(c.match(/[\\d.]+/g)[3]) : 1);
  const backgroundOf = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (alpha(bg) >= 0.99) return bg;
    }
    return getComputedStyle(document.documentElement).backgroundColor;
  };
  const selectors = "h1, h2, h3, p, a, th, td, label, legend, button:not(:disabled), .badge, .muted, .stat-label, " +
    ".stat span, .banner, .step-name, .step time, .legend li, .choice-title, .choice-detail, .log-line span, .conn, " +
    ".role-badge, .crumbs a, nav a, .status, time, .log-level, .log-msg";
  const out = [];
  for (const el of document.querySelectorAll(selectors)) {
    const r = el.getBoundingClientRect();
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || r.width === 0 || r.height === 0 || el.closest(".sr-only, [aria-hidden=true]")) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || Number(style.opacity) < 1) continue;
    const fg = lum(style.color);
    const bg = lum(backgroundOf(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    out.push({ what: el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ").join(".") : ""),
      text: el.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100 });
  }
  return out;
})()`;

const LAYOUT_PROBE = `(() => {
  const body = getComputedStyle(document.body);
  const last = document.querySelector(".timeline li:last-child");
  const list = document.querySelector(".timeline");
  const canvas = document.querySelector(".chunk-map canvas");
  const box = (e) => e && e.getBoundingClientRect().toJSON();
  // A palette colour as the canvas would paint it, to compare with the map's pixels.
  const probe = document.createElement("canvas").getContext("2d");
  const paint = (name) => {
    probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    probe.fillRect(0, 0, 1, 1);
    return [...probe.getImageData(0, 0, 1, 1).data.slice(0, 3)];
  };
  return {
    scrollWidth: document.scrollingElement.scrollWidth,
    innerWidth: window.innerWidth,
    bodyBackground: body.backgroundColor,
    bodyColor: body.color,
    lastPhase: last && { box: box(last), name: last.querySelector(".step-name").textContent },
    timeline: box(list),
    canvas: canvas && {
      width: canvas.width,
      height: canvas.height,
      clientWidth: canvas.clientWidth,
      clientHeight: canvas.clientHeight,
      cols: Number(canvas.dataset.cols),
      cell: Number(canvas.dataset.cell),
      figureWidth: canvas.parentElement.clientWidth,
      firstCell: [...canvas.getContext("2d").getImageData(0, 0, 1, 1).data.slice(0, 3)],
      copied: paint("--map-copied"),
      verified: paint("--map-verified"),
    },
  };
})()`;

interface Layout {
  scrollWidth: number;
  innerWidth: number;
  bodyBackground: string;
  bodyColor: string;
  lastPhase: { box: { left: number; right: number; top: number; bottom: number }; name: string } | null;
  timeline: { left: number; right: number; top: number; bottom: number } | null;
  canvas: {
    width: number;
    height: number;
    clientWidth: number;
    clientHeight: number;
    cols: number;
    cell: number;
    figureWidth: number;
    /** The first chunk's cell, and two of the scheme's map colours, as RGB. */
    firstCell: number[];
    copied: number[];
    verified: number[];
  } | null;
}

describe("dashboard: screens at 1440, 1024 and 800 px, light and dark", () => {
  let setup: TwoHostDashboard;
  let server: TwoHostDashboard["server"];
  let page: Page;
  let errors: string[];
  let liveId = 0;
  let finishedId = 0;
  let copiedChunks = 0;

  const failedJob = async (lv: keyof typeof SIZES, targetLv: string): Promise<number> =>
    (await failedJobOf(setup, lv, { targetLv })).id;

  /** Moves a job on as a runner in another process would: started 95 s ago, and when done, copied whole. */
  const move = (id: number, size: number, to: Pick<JobMove, "state" | "phase">, done: boolean) =>
    moveJob(server, id, {
      ...to,
      phaseState: { sizeBytes: size },
      bytesTotal: size,
      bytesDone: done ? size : 0,
      outageMs: done ? 2_340 : null,
      startedAt: new Date(Date.now() - 95_000).toISOString(),
      finishedAt: done ? new Date().toISOString() : null,
    });

  /** One more step of the live job's full copy: 160 chunks confirmed, the next 96 streamed and in flight. */
  const advanceCopy = () => {
    const step = 160;
    copiedChunks = Math.min(copiedChunks + step, LIVE_CHUNKS - 2 * step);
    server.runtime.hub.progress({
      jobId: liveId,
      phase: "full_copy",
      bytesDone: copiedChunks * CHUNK,
      bytesTotal: LIVE_CHUNKS * CHUNK,
      rangesDone: copiedChunks,
      rangesTotal: LIVE_CHUNKS,
      bytesPerSecond: 38 * MiB + Math.round(Math.random() * 4 * MiB),
      etaSeconds: ((LIVE_CHUNKS - copiedChunks) * CHUNK) / (40 * MiB),
      doneRuns: [[copiedChunks - step, step]],
      bytesStreamed: 96 * CHUNK,
      inFlightRuns: [[copiedChunks, 96]],
    });
  };

  beforeAll(async () => {
    setup = await startTwoHostDashboard("screens");
    ({ server, page, errors } = setup);
    liveId = await failedJob("web1-disk", "web1-disk");
    finishedId = await failedJob("data-1", "data-1");
    move(liveId, SIZES["web1-disk"], { state: "running", phase: "full_copy" }, false);
    move(finishedId, SIZES["data-1"], { state: "succeeded", phase: "done" }, true);
    await loginAs(page, server);
  }, 90_000);
  afterAll(async () => {
    await setup?.close();
  });

  /** Sets the screen, waits for what `ready` waits for, checks the layout facts and keeps the screenshot. */
  const shoot = async (
    name: string,
    width: number,
    scheme: "light" | "dark",
    ready: () => Promise<void>,
  ): Promise<Layout> => {
    await page.setViewportSize({ width, height: width >= 1440 ? 900 : 800 });
    await page.emulateMedia({ colorScheme: scheme });
    await ready();
    const layout = (await page.evaluate(LAYOUT_PROBE)) as Layout;
    const where = `${name} at ${width} px, ${scheme}`;
    // Nothing pushes the page sideways: wide content scrolls inside its own box.
    expect(layout.scrollWidth, where).toBeLessThanOrEqual(layout.innerWidth);
    if (scheme === "dark") {
      expect(luminance(layout.bodyBackground), `${where}: body background ${layout.bodyBackground}`).toBeLessThan(0.05);
      expect(luminance(layout.bodyColor), `${where}: body text ${layout.bodyColor}`).toBeGreaterThan(0.6);
    } else {
      expect(luminance(layout.bodyBackground), `${where}: body background ${layout.bodyBackground}`).toBeGreaterThan(
        0.8,
      );
    }
    const samples = (await page.evaluate(CONTRAST_PROBE)) as TextSample[];
    expect(samples.length, where).toBeGreaterThan(5);
    const lowest = samples.reduce((a, b) => (b.ratio < a.ratio ? b : a));
    console.log(JSON.stringify({ measure: "text contrast", screen: where, samples: samples.length, lowest }));
    expect(
      samples.filter((s) => s.ratio < 4.5),
      `${where}: text below 4.5:1`,
    ).toEqual([]);
    await screenshot(page, `screens-${name}-${width}-${scheme}`);
    return layout;
  };

  /** The job page's own facts: every phase on screen, the map drawn 1:1 in whole cells. */
  const expectJobLayout = (layout: Layout, where: string, firstChunk: "copied" | "verified") => {
    expect(layout.lastPhase?.name, where).toBe("done");
    const last = layout.lastPhase?.box;
    const list = layout.timeline;
    expect(last && list, where).toBeTruthy();
    if (!last || !list) return;
    expect(last.right, `${where}: last phase inside the viewport`).toBeLessThanOrEqual(layout.innerWidth);
    expect(last.right, `${where}: last phase not clipped by the timeline`).toBeLessThanOrEqual(list.right + 0.5);
    expect(last.bottom, where).toBeLessThanOrEqual(list.bottom + 0.5);
    const c = layout.canvas;
    expect(c, where).not.toBeNull();
    if (!c) return;
    // Not scaled by CSS: one canvas pixel per CSS pixel, so every column is exactly `cell` wide.
    expect([c.clientWidth, c.clientHeight], `${where}: canvas drawn 1:1`).toEqual([c.width, c.height]);
    expect(Number.isInteger(c.cell) && c.cell > 1, `${where}: whole cells (${c.cell})`).toBe(true);
    expect(c.width, `${where}: width a multiple of the columns`).toBe(c.cols * c.cell);
    expect(c.width, `${where}: the map fits its figure`).toBeLessThanOrEqual(c.figureWidth);
    // Repainted in this scheme's colours (a canvas keeps what it drew until told otherwise).
    expect(c.firstCell, `${where}: first chunk in the scheme's ${firstChunk} colour`).toEqual(c[firstChunk]);
  };

  /**
   * The map, once its canvas has been fitted to the figure at this width and repainted in this scheme (the page
   * hears of a new scheme through a media-query event and repaints in an effect, a frame or so later).
   */
  const mapFitted = (firstChunk: "copied" | "verified") => async () => {
    await expect
      .poll(
        async () => {
          const c = ((await page.evaluate(LAYOUT_PROBE)) as Layout).canvas;
          return (
            c !== null &&
            c.cell > 0 &&
            c.width <= c.figureWidth &&
            JSON.stringify(c.firstCell) === JSON.stringify(c[firstChunk])
          );
        },
        { timeout: 15_000 },
      )
      .toBe(true);
  };

  it("the wizard", async () => {
    await page.goto(`${server.url}/migrations/new`);
    await page.getByRole("heading", { name: "New migration" }).waitFor({ timeout: 15_000 });
    // A source host chosen, as a user would have it after their first click.
    await page.getByRole("radio", { name: /hv-src/ }).check({ timeout: 15_000 });
    for (const width of WIDTHS)
      for (const scheme of SCHEMES)
        await shoot("wizard", width, scheme, async () => {
          await page.getByRole("radio", { name: /hv-src/ }).waitFor();
        });
    expect(errors).toEqual([]);
  });

  it("a live job, its copy moving between screenshots", async () => {
    await page.goto(`${server.url}/jobs/${liveId}`);
    await expect.poll(() => page.locator(".conn").textContent(), { timeout: 15_000 }).toBe("live");
    advanceCopy();
    await expect
      .poll(() => page.getByTestId("bytes-confirmed").textContent(), { timeout: 15_000 })
      .not.toMatch(/^0 B? ?confirmed$/);
    for (const width of WIDTHS)
      for (const scheme of SCHEMES) {
        const layout = await shoot("job-live", width, scheme, async () => {
          const before = await page.getByTestId("bytes-progress").textContent();
          advanceCopy();
          await expect
            .poll(() => page.getByTestId("bytes-progress").textContent(), { timeout: 15_000 })
            .not.toBe(before);
          await mapFitted("copied")();
        });
        expectJobLayout(layout, `live job at ${width} px, ${scheme}`, "copied");
      }
    expect(errors).toEqual([]);
  });

  it("a finished job", async () => {
    await page.goto(`${server.url}/jobs/${finishedId}`);
    await expect.poll(() => page.locator(".badge").first().textContent(), { timeout: 15_000 }).toBe("succeeded");
    await page.getByRole("log", { name: "Job log" }).waitFor();
    for (const width of WIDTHS)
      for (const scheme of SCHEMES) {
        const layout = await shoot("job-finished", width, scheme, mapFitted("verified"));
        expectJobLayout(layout, `finished job at ${width} px, ${scheme}`, "verified");
      }
    expect(errors).toEqual([]);
  });

  it("keeps a figure and its unit on one line in the hosts' Health column at 800 px", async () => {
    await page.setViewportSize({ width: 800, height: 800 });
    await page.emulateMedia({ colorScheme: "light" });
    await page.goto(`${server.url}/hosts`);
    const health = page.getByTestId("host-row-hv-src").locator("td .figure");
    await expect.poll(() => health.textContent(), { timeout: 15_000 }).toMatch(/^\d+ ms$/);
    // Every box of the figure on one line: "ms" did not wrap under the number.
    const tops = `[...document.querySelector('[data-testid="host-row-hv-src"] td .figure').getClientRects()]
      .map((r) => Math.round(r.top))`;
    expect(new Set((await page.evaluate(tops)) as number[]).size).toBe(1);
    const layout = (await page.evaluate(LAYOUT_PROBE)) as Layout;
    expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
    await screenshot(page, "screens-hosts-800-light");
    expect(errors).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import {
  CHANGED,
  ChunkMapModel,
  COLORS,
  COPIED,
  canvasSizeFor,
  layoutFor,
  rgba,
  VERIFIED,
} from "../src/lib/chunk-map.ts";

describe("layoutFor", () => {
  it("gives small volumes big square cells that fit", () => {
    const l = layoutFor(4096, 720, 180);
    expect(l.chunksPerBucket).toBe(1);
    expect(l.cell).toBeGreaterThan(1);
    expect(l.rows * l.cell).toBeLessThanOrEqual(180);
    expect(l.cols * l.cell).toBeLessThanOrEqual(720);
    expect(l.cols * l.rows).toBeGreaterThanOrEqual(4096);
  });

  it("groups chunks into one-pixel buckets when there are more chunks than pixels", () => {
    const l = layoutFor(1_000_000, 720, 180);
    expect(l.cell).toBe(1);
    expect(l.chunksPerBucket).toBe(8);
    expect(l.rows).toBeLessThanOrEqual(180);
    expect(l.buckets * l.chunksPerBucket).toBeGreaterThanOrEqual(1_000_000);
  });
});

describe("canvasSizeFor", () => {
  // Volume sizes in chunks (64 KiB chunks: 4 MiB to 64 GiB, and odd counts) and figure widths at 800-1440 px.
  const totals = [1, 64, 1024, 1000, 4096, 16_385, 150_000, 1_000_000, 2_000_003];
  const widths = [300, 536, 538, 700, 880, 1200];

  it("cuts the canvas to whole cells and rows, so CSS never scales it and columns stay even", () => {
    for (const total of totals)
      for (const box of widths) {
        const { width, height } = canvasSizeFor(total, box);
        expect(width).toBeLessThanOrEqual(Math.max(120, box));
        const l = layoutFor(total, width, height);
        expect(Number.isInteger(l.cell)).toBe(true);
        if (l.cell > 1) expect(width).toBe(l.cols * l.cell);
        expect(height).toBe(l.rows * l.cell);
      }
  });

  it("keeps the layout the full strip would have: trimming never shrinks the cells", () => {
    for (const total of totals)
      for (const box of widths) {
        const width = Math.min(960, box);
        const full = layoutFor(total, width, Math.max(60, Math.min(240, Math.round(width / 4))));
        const { width: w, height: h } = canvasSizeFor(total, box);
        const trimmed = layoutFor(total, w, h);
        expect([trimmed.cell, trimmed.cols, trimmed.chunksPerBucket]).toEqual([
          full.cell,
          full.cols,
          full.chunksPerBucket,
        ]);
      }
  });
});

describe("ChunkMapModel", () => {
  it("repaints everything in a new palette (the colour scheme changed)", () => {
    const m = new ChunkMapModel(100, 50, 50);
    m.mark([[0, 10]], COPIED);
    m.paint();
    expect(m.pixels[0]).toBe(COLORS.copied);
    const dark = { ...COLORS, background: rgba(22, 27, 34), copied: rgba(59, 130, 246), pending: rgba(47, 56, 69) };
    m.setPalette(dark);
    expect(m.paint()).toEqual({ y: 0, height: 50 });
    expect(m.pixels[0]).toBe(dark.copied);
    expect(m.pixels[50 * 50 - 1]).toBe(dark.background);
    expect(m.pixels.includes(COLORS.copied) || m.pixels.includes(COLORS.background)).toBe(false);
  });

  it("keeps every chunk's state and the in-flight set when resized", () => {
    const m = new ChunkMapModel(1000, 200, 50);
    m.mark([[0, 300]], COPIED);
    m.mark([[10, 5]], CHANGED);
    m.mark([[100, 50]], VERIFIED);
    m.setInFlight([[400, 20]]);
    const r = m.resized(120, 90);
    expect([r.width, r.height]).toEqual([120, 90]);
    expect(r.summary()).toEqual(m.summary());
    expect([r.stateOf(12), r.stateOf(120), r.stateOf(299), r.stateOf(300)]).toEqual([CHANGED, VERIFIED, COPIED, 0]);
    expect(r.isInFlight(410)).toBe(true);
  });

  it("counts states exactly and clips runs past the end", () => {
    const m = new ChunkMapModel(100, 50, 50);
    m.mark(
      [
        [0, 10],
        [95, 50],
      ],
      COPIED,
    );
    m.mark([[5, 2]], CHANGED);
    expect(m.summary()).toEqual({ pending: 85, copied: 13, changed: 2, verified: 0, inFlight: 0 });
    m.mark([[0, 100]], VERIFIED);
    expect(m.summary()).toEqual({ pending: 0, copied: 0, changed: 0, verified: 100, inFlight: 0 });
  });

  it("repaints only the buckets a mark touched", () => {
    const m = new ChunkMapModel(1_000_000, 720, 180);
    m.paint();
    expect(m.hasDirty).toBe(false);
    m.mark([[800, 8]], COPIED); // exactly bucket 100 (8 chunks per bucket)
    const band = m.paint();
    expect(band).toEqual({ y: 0, height: 1 });
    expect(m.pixels[100]).toBe(COLORS.copied);
    expect(m.pixels[99]).toBe(COLORS.pending);
    expect(m.pixels[101]).toBe(COLORS.pending);
  });

  it("shades a partly copied bucket between pending and copied, and shows a change over anything", () => {
    const m = new ChunkMapModel(1_000_000, 720, 180);
    m.mark([[0, 4]], COPIED); // half of bucket 0
    m.paint();
    const px = m.pixels[0] as number;
    expect(px).not.toBe(COLORS.pending);
    expect(px).not.toBe(COLORS.copied);
    m.mark([[7, 1]], CHANGED);
    m.paint();
    expect(m.pixels[0]).toBe(COLORS.changed);
  });

  it("shows chunks in flight over their state, each set replacing the previous one", () => {
    const m = new ChunkMapModel(100, 50, 50);
    m.mark([[0, 10]], COPIED);
    m.paint();
    m.setInFlight([[10, 5]]);
    m.paint();
    const cellOf = (chunk: number) => {
      const { cols, cell } = m.layout;
      return m.pixels[Math.floor(chunk / cols) * cell * 50 + (chunk % cols) * cell] as number;
    };
    expect(cellOf(10)).toBe(COLORS.inFlight);
    expect(cellOf(15)).toBe(COLORS.pending);
    expect(m.summary()).toMatchObject({ copied: 10, pending: 85, inFlight: 5 });
    expect(m.isInFlight(12)).toBe(true);
    // The next report: the stream went on, the first five were confirmed.
    m.setInFlight([[15, 8]]);
    m.mark([[10, 5]], COPIED);
    m.paint();
    expect(cellOf(10)).toBe(COLORS.copied);
    expect(cellOf(20)).toBe(COLORS.inFlight);
    expect(m.summary()).toMatchObject({ copied: 15, pending: 77, inFlight: 8 });
    // A failed batch leaves the set: its chunks show their state again.
    m.setInFlight([]);
    m.paint();
    expect(cellOf(20)).toBe(COLORS.pending);
    expect(m.summary().inFlight).toBe(0);
  });

  it("counts in-flight chunks of shared one-pixel buckets exactly", () => {
    const m = new ChunkMapModel(1_000_000, 720, 180);
    m.paint();
    m.setInFlight([[804, 20]]); // buckets 100 (half), 101, 102 (half)
    m.paint();
    expect([99, 100, 101, 102, 103].map((b) => m.pixels[b] === COLORS.inFlight)).toEqual([
      false,
      true,
      true,
      true,
      false,
    ]);
    m.setInFlight([]);
    m.paint();
    expect(m.pixels[100]).toBe(COLORS.pending);
  });

  it("marks and paints a million chunks quickly", () => {
    const m = new ChunkMapModel(1_000_000, 720, 180);
    m.paint();
    const t0 = performance.now();
    // The live stream delivers many small runs: 10,000 runs of 100 chunks.
    const runs: [number, number][] = [];
    for (let i = 0; i < 10_000; i++) runs.push([i * 100, 100]);
    m.mark(runs, COPIED);
    m.paint();
    const ms = performance.now() - t0;
    expect(m.summary().copied).toBe(1_000_000);
    expect(m.pixels.every((p, i) => i >= m.layout.buckets || p === COLORS.copied)).toBe(true);
    expect(ms).toBeLessThan(500);
  });
});

/**
 * The chunk map's model, apart from the canvas so it can be tested and measured without a browser.
 *
 * Every chunk has a state. Chunks are grouped into buckets, one bucket per drawn cell (a cell is one pixel once a
 * volume has more chunks than the canvas has pixels). Each bucket keeps counts per state, so marking a run of
 * chunks touches only those chunks and repainting touches only the buckets that changed: a million-chunk map
 * updates in a few milliseconds, and a frame never redraws the whole volume unless the whole volume changed.
 */

export const PENDING = 0;
export const COPIED = 1;
/** Written since it was copied: must be sent again in a catch-up pass or the final delta. */
export const CHANGED = 2;
export const VERIFIED = 3;
export type ChunkState = typeof PENDING | typeof COPIED | typeof CHANGED | typeof VERIFIED;

export type Run = readonly [first: number, count: number];

export interface Layout {
  /** Chunks per bucket (1 when every chunk gets a cell of its own). */
  chunksPerBucket: number;
  buckets: number;
  cols: number;
  rows: number;
  /** Side of a bucket's square cell in pixels. */
  cell: number;
}

/** Biggest square cells that fit all buckets into width x height. */
export function layoutFor(totalChunks: number, width: number, height: number): Layout {
  const pixels = width * height;
  if (totalChunks <= 0) return { chunksPerBucket: 1, buckets: 0, cols: width, rows: 0, cell: 1 };
  if (totalChunks > pixels) {
    const chunksPerBucket = Math.ceil(totalChunks / pixels);
    const buckets = Math.ceil(totalChunks / chunksPerBucket);
    return { chunksPerBucket, buckets, cols: width, rows: Math.ceil(buckets / width), cell: 1 };
  }
  let cell = Math.max(1, Math.floor(Math.sqrt(pixels / totalChunks)));
  for (; cell > 1; cell--) {
    const cols = Math.floor(width / cell);
    if (Math.ceil(totalChunks / cols) * cell <= height) break;
  }
  const cols = Math.floor(width / cell);
  return { chunksPerBucket: 1, buckets: totalChunks, cols, rows: Math.ceil(totalChunks / cols), cell };
}

/** The map never grows past this width (CSS pixels); wider figures leave room beside it. */
const MAX_CANVAS_WIDTH = 960;

/**
 * The canvas for a figure `boxWidth` CSS pixels wide: a strip of about 4:1, cut down to whole cells (and whole rows)
 * so it is drawn 1:1, never scaled by CSS (scaling is what made columns uneven). Its layout is the one `layoutFor`
 * gives for the full strip: trimming never changes the cell size or the chunks per bucket.
 */
export function canvasSizeFor(totalChunks: number, boxWidth: number): { width: number; height: number } {
  const width = Math.max(120, Math.min(MAX_CANVAS_WIDTH, Math.floor(boxWidth)));
  const height = Math.max(60, Math.min(240, Math.round(width / 4)));
  const l = layoutFor(totalChunks, width, height);
  if (l.buckets === 0) return { width, height };
  return { width: l.cell === 1 ? width : l.cols * l.cell, height: l.rows * l.cell };
}

/** Colours as little-endian RGBA words, the layout of ImageData on every browser we target. */
export const rgba = (r: number, g: number, b: number) => ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;

/** The map's colours as RGBA words. The page reads them from the stylesheet (light or dark scheme). */
export interface MapPalette {
  background: number;
  pending: number;
  copied: number;
  changed: number;
  verified: number;
  inFlight: number;
}

/** The light scheme's colours (the stylesheet's --map-* defaults), for a model built without a page. */
export const COLORS: MapPalette = {
  background: rgba(255, 255, 255),
  pending: rgba(214, 219, 226),
  copied: rgba(37, 99, 235),
  changed: rgba(234, 88, 12),
  verified: rgba(22, 163, 74),
  /** Streamed to the target, not yet read back and confirmed. */
  inFlight: rgba(6, 182, 212),
};

function channel(c: number, shift: number) {
  return (c >>> shift) & 255;
}
function ramp(from: number, to: number): Uint32Array {
  const out = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    const mix = (s: number) => Math.round(channel(from, s) + (channel(to, s) - channel(from, s)) * t);
    out[i] = rgba(mix(0), mix(8), mix(16));
  }
  return out;
}

export class ChunkMapModel {
  readonly layout: Layout;
  /** RGBA pixels, width * height, ready to wrap in an ImageData. */
  readonly pixels: Uint32Array<ArrayBuffer>;
  private readonly states: Uint8Array;
  private readonly counts: Uint32Array;
  private readonly dirtyFlags: Uint8Array;
  private dirty: number[] = [];
  /** Every bucket needs painting (at first, or after most of the volume changed): skip the per-bucket list. */
  private allDirty = true;
  private readonly totals = new Float64Array(4);
  /** In-flight chunks per bucket: an overlay over the states, replaced whole by each `setInFlight`. */
  private readonly inFlightCounts: Uint32Array;
  private inFlight: Run[] = [];
  private inFlightTotal = 0;
  private palette: MapPalette = COLORS;
  private pendingToCopied = ramp(COLORS.pending, COLORS.copied);
  private copiedToVerified = ramp(COLORS.copied, COLORS.verified);

  constructor(
    readonly totalChunks: number,
    readonly width: number,
    readonly height: number,
    palette: MapPalette = COLORS,
  ) {
    this.layout = layoutFor(totalChunks, width, height);
    this.pixels = new Uint32Array(width * height);
    this.setPalette(palette);
    this.states = new Uint8Array(totalChunks);
    this.counts = new Uint32Array(this.layout.buckets * 4);
    this.dirtyFlags = new Uint8Array(this.layout.buckets);
    this.inFlightCounts = new Uint32Array(this.layout.buckets);
    const cpb = this.layout.chunksPerBucket;
    for (let b = 0; b < this.layout.buckets; b++) this.counts[b * 4] = Math.min(cpb, totalChunks - b * cpb);
    this.totals[PENDING] = totalChunks;
  }

  /** Repaint everything in other colours (the colour scheme changed). */
  setPalette(palette: MapPalette): void {
    this.palette = palette;
    this.pendingToCopied = ramp(palette.pending, palette.copied);
    this.copiedToVerified = ramp(palette.copied, palette.verified);
    this.pixels.fill(palette.background);
    this.allDirty = true;
  }

  /**
   * The same chunks on a canvas of another size (the page was resized): states and the in-flight set carry over,
   * so nothing streamed since the map was fetched is lost.
   */
  resized(width: number, height: number): ChunkMapModel {
    const next = new ChunkMapModel(this.totalChunks, width, height, this.palette);
    for (const state of [COPIED, CHANGED, VERIFIED] as const) next.mark(this.runsIn(state), state);
    next.setInFlight(this.inFlight);
    return next;
  }

  private *runsIn(state: ChunkState): Generator<Run> {
    const { states, totalChunks } = this;
    for (let i = 0; i < totalChunks; i++) {
      if (states[i] !== state) continue;
      const first = i;
      while (i + 1 < totalChunks && states[i + 1] === state) i++;
      yield [first, i - first + 1];
    }
  }

  /**
   * Chunks in each state, and how many are in flight (streamed, not yet confirmed); `pending` leaves out pending
   * chunks in flight, so a full copy's figures add up. The in-flight set is a few batches: counting it is cheap.
   */
  summary(): { pending: number; copied: number; changed: number; verified: number; inFlight: number } {
    const t = this.totals;
    let pendingInFlight = 0;
    for (const [first, count] of this.inFlight)
      for (let i = Math.max(0, first); i < Math.min(this.totalChunks, first + count); i++)
        if (this.states[i] === PENDING) pendingInFlight++;
    return {
      pending: (t[PENDING] ?? 0) - pendingInFlight,
      copied: t[COPIED] ?? 0,
      changed: t[CHANGED] ?? 0,
      verified: t[VERIFIED] ?? 0,
      inFlight: this.inFlightTotal,
    };
  }

  /**
   * The chunks in flight now, replacing the previous set (a copy streams a few batches at a time, so both sets
   * are short). They keep their state underneath: a failed batch simply leaves the set.
   */
  setInFlight(runs: readonly Run[]): void {
    this.shiftInFlight(this.inFlight, -1);
    this.inFlight = runs.map(([first, count]) => [first, count] as const);
    this.shiftInFlight(this.inFlight, 1);
  }

  private shiftInFlight(runs: readonly Run[], by: 1 | -1): void {
    const cpb = this.layout.chunksPerBucket;
    for (const [first, count] of runs) {
      const start = Math.max(0, first);
      const end = Math.min(this.totalChunks, first + count);
      if (end <= start) continue;
      this.inFlightTotal += by * (end - start);
      for (let b = (start / cpb) | 0; b * cpb < end; b++) {
        const n = Math.min(end, (b + 1) * cpb) - Math.max(start, b * cpb);
        (this.inFlightCounts[b] as number) += by * n;
        if (this.dirtyFlags[b] === 0 && !this.allDirty) this.markDirty(b);
      }
    }
  }

  isInFlight(chunk: number): boolean {
    return this.inFlight.some(([first, count]) => chunk >= first && chunk < first + count);
  }

  stateOf(chunk: number): ChunkState {
    return (this.states[chunk] ?? PENDING) as ChunkState;
  }

  /** Set every chunk in the runs to `state`. Runs beyond the volume are clipped. */
  mark(runs: Iterable<Run>, state: ChunkState): void {
    const { states, counts, totals, dirtyFlags } = this;
    const cpb = this.layout.chunksPerBucket;
    let moved = 0;
    const movedFrom = [0, 0, 0, 0];
    for (const [first, count] of runs) {
      const start = Math.max(0, first);
      const end = Math.min(this.totalChunks, first + count);
      for (let i = start; i < end; i++) {
        const old = states[i] as number;
        if (old === state) continue;
        states[i] = state;
        const b = cpb === 1 ? i : (i / cpb) | 0;
        (counts[b * 4 + old] as number)--;
        (counts[b * 4 + state] as number)++;
        (movedFrom[old] as number)++;
        moved++;
        if (dirtyFlags[b] === 0 && !this.allDirty) this.markDirty(b);
      }
    }
    for (let s = 0; s < 4; s++) (totals[s] as number) -= movedFrom[s] as number;
    (totals[state] as number) += moved;
  }

  get hasDirty(): boolean {
    return this.allDirty || this.dirty.length > 0;
  }

  /**
   * Repaint the buckets changed since the last call. Returns the band of rows touched (in pixels), so the caller
   * can put only that part of the image, or null when nothing changed.
   */
  paint(): { y: number; height: number } | null {
    if (this.allDirty) {
      this.allDirty = false;
      this.dirty = [];
      this.dirtyFlags.fill(0);
      for (let b = 0; b < this.layout.buckets; b++) this.paintBucket(b);
      // The whole canvas: after a palette change the background under and between the cells changed too.
      return { y: 0, height: this.height };
    }
    if (this.dirty.length === 0) return null;
    let minRow = Number.POSITIVE_INFINITY;
    let maxRow = -1;
    const { cols } = this.layout;
    for (const b of this.dirty) {
      this.dirtyFlags[b] = 0;
      this.paintBucket(b);
      const row = (b / cols) | 0;
      if (row < minRow) minRow = row;
      if (row > maxRow) maxRow = row;
    }
    this.dirty = [];
    return { y: minRow * this.layout.cell, height: (maxRow - minRow + 1) * this.layout.cell };
  }

  private paintBucket(b: number): void {
    const { cols, cell } = this.layout;
    const { pixels, width, counts } = this;
    const base = b * 4;
    const pending = counts[base] as number;
    const copied = counts[base + 1] as number;
    const changed = counts[base + 2] as number;
    const verified = counts[base + 3] as number;
    const n = pending + copied + changed + verified;
    let color: number;
    if ((this.inFlightCounts[b] as number) > 0) color = this.palette.inFlight;
    else if (changed > 0) color = this.palette.changed;
    else if (pending > 0) color = this.pendingToCopied[Math.floor(((copied + verified) / n) * 255)] as number;
    else color = this.copiedToVerified[Math.floor((verified / n) * 255)] as number;
    const row = (b / cols) | 0;
    const x0 = (b - row * cols) * cell;
    const y0 = row * cell;
    if (cell === 1) {
      pixels[y0 * width + x0] = color;
      return;
    }
    // Leave a one-pixel gap between big cells so single chunks read as squares.
    const side = cell >= 4 ? cell - 1 : cell;
    for (let y = y0; y < y0 + side; y++) pixels.fill(color, y * width + x0, y * width + x0 + side);
  }

  /** The chunk range under pixel (x, y), for tooltips; null outside the map. */
  chunksAt(x: number, y: number): { first: number; count: number } | null {
    const { cols, cell, chunksPerBucket, buckets } = this.layout;
    const col = Math.floor(x / cell);
    const row = Math.floor(y / cell);
    if (col < 0 || col >= cols || row < 0) return null;
    const b = row * cols + col;
    if (b >= buckets) return null;
    const first = b * chunksPerBucket;
    return { first, count: Math.min(chunksPerBucket, this.totalChunks - first) };
  }

  private markDirty(b: number): void {
    this.dirtyFlags[b] = 1;
    this.dirty.push(b);
    // When most of the map changed (a pass finished), one full repaint beats a long list of buckets.
    if (this.dirty.length > this.layout.buckets / 4) {
      this.allDirty = true;
      this.dirty = [];
    }
  }
}

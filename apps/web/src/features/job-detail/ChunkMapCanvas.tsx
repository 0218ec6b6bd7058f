import type { ChunkMap } from "@blockferry/contracts";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import {
  CHANGED,
  ChunkMapModel,
  type ChunkState,
  COPIED,
  canvasSizeFor,
  type MapPalette,
  rgba,
  VERIFIED,
} from "../../lib/chunk-map.ts";
import { formatBytes } from "../../lib/format.ts";
import { colorBytes, cssColor, useColorScheme } from "../../lib/theme.ts";
import type { JobStreamStore } from "./job-stream-store.ts";

/** The canvas's border, left and right, inside the figure's width. */
const BORDER = 2;

/**
 * Which state a finished run puts its chunks in, as the server's map does: a full copy's confirmed runs are
 * copied; a catch-up's or the final delta's are changed chunks the target's read-back just proved, so verified.
 */
export const stateForPhase = (phase: string): ChunkState => (phase === "full_copy" ? COPIED : VERIFIED);

/** The map's colours from the stylesheet, for the scheme in force. */
function readPalette(el: Element): MapPalette {
  const word = (name: `--${string}`) => rgba(...colorBytes(cssColor(el, name)));
  return {
    background: word("--map-bg"),
    pending: word("--map-pending"),
    copied: word("--map-copied"),
    changed: word("--map-changed"),
    verified: word("--map-verified"),
    inFlight: word("--map-in-flight"),
  };
}

/**
 * The whole volume on one canvas. The model keeps per-bucket counts; this component only copies the rows that
 * changed into the canvas, once per animation frame, however many progress messages arrived in between.
 * The canvas is sized to its figure in whole cells (and resized with it), and painted in the stylesheet's colours,
 * repainted when the colour scheme changes.
 */
export function ChunkMapCanvas({
  map,
  store,
  disk = 0,
  label = "Chunk map",
}: {
  map: ChunkMap;
  store: JobStreamStore;
  /** The disk of the job this map is of: only its runs are drawn. */
  disk?: number;
  /** What the canvas is named by, before its figures: "Chunk map of disk 1 (vg0/data)". */
  label?: string;
}) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const figureRef = useRef<HTMLElement>(null);
  const [summary, setSummary] = useState({ pending: map.totalChunks, copied: 0, changed: 0, verified: 0, inFlight: 0 });
  const [hover, setHover] = useState<string | null>(null);
  const modelRef = useRef<ChunkMapModel | null>(null);
  const repaintRef = useRef<(() => void) | null>(null);
  const scheme = useColorScheme();

  // A layout effect: the canvas is sized to its figure and drawn before the browser first paints it (no blank
  // 300x150 default canvas for a frame).
  useLayoutEffect(() => {
    const canvas = canvasRef.current;
    const figure = figureRef.current;
    const ctx = canvas?.getContext("2d");
    if (!canvas || !figure || !ctx) return;
    const size = canvasSizeFor(map.totalChunks, figure.clientWidth - BORDER);
    let model = new ChunkMapModel(map.totalChunks, size.width, size.height, readPalette(canvas));
    model.mark(map.copied, COPIED);
    model.mark(map.changed, CHANGED);
    model.mark(map.verified, VERIFIED);
    let image: ImageData;
    const fit = () => {
      modelRef.current = model;
      canvas.width = model.width;
      canvas.height = model.height;
      // For tests and the curious: the grid drawn, in whole pixels.
      canvas.dataset.cols = String(model.layout.cols);
      canvas.dataset.cell = String(model.layout.cell);
      image = new ImageData(new Uint8ClampedArray(model.pixels.buffer), model.width, model.height);
    };
    fit();
    let frame: number | null = null;
    const draw = () => {
      frame = null;
      const band = model.paint();
      if (band) ctx.putImageData(image, 0, 0, 0, band.y, model.width, band.height);
      setSummary(model.summary());
    };
    const schedule = () => {
      if (frame === null) frame = requestAnimationFrame(draw);
    };
    draw();
    repaintRef.current = () => {
      model.setPalette(readPalette(canvas));
      draw();
    };
    const resize = new ResizeObserver(() => {
      const next = canvasSizeFor(map.totalChunks, figure.clientWidth - BORDER);
      if (next.width === model.width && next.height === model.height) return;
      model = model.resized(next.width, next.height);
      fit();
      draw(); // now, before the browser paints the cleared canvas
    });
    resize.observe(figure);
    const off = store.onRuns((runs, phase, of) => {
      if (of !== disk) return;
      model.mark(runs, stateForPhase(phase));
      schedule();
    });
    const offInFlight = store.onInFlight((runs, of) => {
      if (of !== disk) return;
      model.setInFlight(runs);
      schedule();
    });
    return () => {
      off();
      offInFlight();
      resize.disconnect();
      repaintRef.current = null;
      if (frame !== null) cancelAnimationFrame(frame);
    };
  }, [map, store, disk]);

  // A canvas keeps its pixels: repaint them in the new scheme's colours (the effect above reads them at first).
  useEffect(() => {
    if (scheme) repaintRef.current?.();
  }, [scheme]);

  const onMove = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const model = modelRef.current;
    const rect = e.currentTarget.getBoundingClientRect();
    if (!model) return setHover(null);
    const x = ((e.clientX - rect.left) / rect.width) * model.width;
    const y = ((e.clientY - rect.top) / rect.height) * model.height;
    const at = model.chunksAt(x, y);
    if (!at) return setHover(null);
    const names = ["pending", "copied", "changed", "verified"];
    const label =
      at.count === 1
        ? `chunk ${at.first}: ${names[model.stateOf(at.first)]}${model.isInFlight(at.first) ? ", in flight" : ""}`
        : `chunks ${at.first}–${at.first + at.count - 1}`;
    setHover(`${label} (offset ${formatBytes(at.first * map.chunkBytes)})`);
  };

  const total = map.totalChunks || 1;
  const pct = (n: number) => `${((n / total) * 100).toFixed(1)}%`;
  return (
    <figure className="chunk-map" ref={figureRef}>
      <canvas
        ref={canvasRef}
        role="img"
        aria-label={`${label} of ${map.totalChunks} chunks of ${formatBytes(map.chunkBytes)}: ${pct(summary.copied + summary.verified)} copied, ${pct(summary.inFlight)} in flight, ${summary.changed} changed, ${pct(summary.verified)} verified`}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
      />
      <figcaption>
        <ul className="legend">
          <li>
            <i className="swatch-pending" /> pending {pct(summary.pending)}
          </li>
          <li>
            <i className="swatch-in-flight" /> in flight {pct(summary.inFlight)}
          </li>
          <li>
            <i className="swatch-copied" /> copied {pct(summary.copied)}
          </li>
          <li>
            <i className="swatch-changed" /> changed {summary.changed}
          </li>
          <li>
            <i className="swatch-verified" /> verified {pct(summary.verified)}
          </li>
        </ul>
        <span className="muted small" aria-live="off">
          {hover ?? `${map.totalChunks.toLocaleString()} chunks of ${formatBytes(map.chunkBytes)}; hover for offsets`}
        </span>
      </figcaption>
    </figure>
  );
}

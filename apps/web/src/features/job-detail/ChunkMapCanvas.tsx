import type { ChunkMap } from "@blockferry/contracts";
import { useEffect, useRef, useState } from "react";
import { CHANGED, ChunkMapModel, type ChunkState, COLORS, COPIED, VERIFIED } from "../../lib/chunk-map.ts";
import { formatBytes } from "../../lib/format.ts";
import type { JobStreamStore } from "./job-stream-store.ts";

const WIDTH = 720;
const HEIGHT = 180;

/**
 * Which state a finished run puts its chunks in, as the server's map does: a full copy's confirmed runs are
 * copied; a catch-up's or the final delta's are changed chunks the target's read-back just proved, so verified.
 */
export const stateForPhase = (phase: string): ChunkState => (phase === "full_copy" ? COPIED : VERIFIED);

const css = (c: number) => `rgb(${c & 255} ${(c >>> 8) & 255} ${(c >>> 16) & 255})`;

/**
 * The whole volume on one canvas. The model keeps per-bucket counts; this component only copies the rows that
 * changed into the canvas, once per animation frame, however many progress messages arrived in between.
 */
export function ChunkMapCanvas({ map, store }: { map: ChunkMap; store: JobStreamStore }) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [summary, setSummary] = useState({ pending: map.totalChunks, copied: 0, changed: 0, verified: 0, inFlight: 0 });
  const [hover, setHover] = useState<string | null>(null);
  const modelRef = useRef<ChunkMapModel | null>(null);

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext("2d");
    if (!canvas || !ctx) return;
    const model = new ChunkMapModel(map.totalChunks, WIDTH, HEIGHT);
    modelRef.current = model;
    model.mark(map.copied, COPIED);
    model.mark(map.changed, CHANGED);
    model.mark(map.verified, VERIFIED);
    const image = new ImageData(new Uint8ClampedArray(model.pixels.buffer), WIDTH, HEIGHT);
    let frame: number | null = null;
    const draw = () => {
      frame = null;
      const band = model.paint();
      if (band) ctx.putImageData(image, 0, 0, 0, band.y, WIDTH, band.height);
      setSummary(model.summary());
    };
    const schedule = () => {
      if (frame === null) frame = requestAnimationFrame(draw);
    };
    draw();
    const off = store.onRuns((runs, phase) => {
      model.mark(runs, stateForPhase(phase));
      schedule();
    });
    const offInFlight = store.onInFlight((runs) => {
      model.setInFlight(runs);
      schedule();
    });
    return () => {
      off();
      offInFlight();
      if (frame !== null) cancelAnimationFrame(frame);
    };
  }, [map, store]);

  const onMove = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const model = modelRef.current;
    const rect = e.currentTarget.getBoundingClientRect();
    const x = ((e.clientX - rect.left) / rect.width) * WIDTH;
    const y = ((e.clientY - rect.top) / rect.height) * HEIGHT;
    const at = model?.chunksAt(x, y);
    if (!model || !at) return setHover(null);
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
    <figure className="chunk-map">
      <canvas
        ref={canvasRef}
        width={WIDTH}
        height={HEIGHT}
        role="img"
        aria-label={`Chunk map of ${map.totalChunks} chunks of ${formatBytes(map.chunkBytes)}: ${pct(summary.copied + summary.verified)} copied, ${pct(summary.inFlight)} in flight, ${summary.changed} changed, ${pct(summary.verified)} verified`}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
      />
      <figcaption>
        <ul className="legend">
          <li>
            <i style={{ background: css(COLORS.pending) }} /> pending {pct(summary.pending)}
          </li>
          <li>
            <i style={{ background: css(COLORS.inFlight) }} /> in flight {pct(summary.inFlight)}
          </li>
          <li>
            <i style={{ background: css(COLORS.copied) }} /> copied {pct(summary.copied)}
          </li>
          <li>
            <i style={{ background: css(COLORS.changed) }} /> changed {summary.changed}
          </li>
          <li>
            <i style={{ background: css(COLORS.verified) }} /> verified {pct(summary.verified)}
          </li>
        </ul>
        <span className="muted small" aria-live="off">
          {hover ?? `${map.totalChunks.toLocaleString()} chunks of ${formatBytes(map.chunkBytes)}; hover for offsets`}
        </span>
      </figcaption>
    </figure>
  );
}

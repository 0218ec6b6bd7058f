import { useEffect, useRef } from "react";
import { formatRate } from "../../lib/format.ts";
import { cssColor, useColorScheme } from "../../lib/theme.ts";
import { splitAtGaps } from "../../lib/throughput-gaps.ts";
import type { ThroughputSample } from "./job-stream-store.ts";

const W = 360;
const H = 120;
const SPAN_MS = 120_000;
const MIN_SPAN_MS = 10_000;

/** Throughput over the last two minutes, drawn by hand on a canvas (an area under a line, one y gridline). */
export function ThroughputChart({ samples, version }: { samples: readonly ThroughputSample[]; version: unknown }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const latest = samples[samples.length - 1];
  // Canvas colours come from the stylesheet; a new scheme means a redraw in its colours.
  const scheme = useColorScheme();
  // biome-ignore lint/correctness/useExhaustiveDependencies: `version` tells us the sample ring changed in place; `scheme` that the palette did.
  useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext("2d");
    if (!canvas || !ctx) return;
    const muted = cssColor(canvas, "--muted");
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== W * dpr) {
      canvas.width = W * dpr;
      canvas.height = H * dpr;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const now = Date.now();
    // Two minutes at most; a copy that began a few seconds ago fills the chart instead of hugging its edge.
    const oldest = samples.find((s) => now - s.t <= SPAN_MS);
    const span = Math.max(MIN_SPAN_MS, oldest ? now - oldest.t : 0);
    const visible = samples.filter((s) => now - s.t <= span);
    const max = Math.max(1, ...visible.map((s) => s.bytesPerSecond)) * 1.15;
    const x = (t: number) => W - ((now - t) / span) * W;
    const y = (v: number) => H - 14 - (v / max) * (H - 24);
    if (visible.length < 2) {
      canvas.dataset.segments = "0";
      ctx.fillStyle = muted;
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillText("no transfer running", W / 2 - 52, H / 2);
      return;
    }
    ctx.strokeStyle = cssColor(canvas, "--chart-grid");
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, y(max / 1.15) + 0.5);
    ctx.lineTo(W, y(max / 1.15) + 0.5);
    ctx.stroke();
    ctx.fillStyle = muted;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText(formatRate(max / 1.15), 4, y(max / 1.15) - 3);
    ctx.fillText(span >= SPAN_MS ? "2 min ago" : `${Math.round(span / 1000)} s ago`, 4, H - 2);
    ctx.fillText("now", W - 24, H - 2);

    // One line (and area) per stretch of samples: an idle stretch stays empty instead of bridged by a line.
    const segments = splitAtGaps(visible);
    for (const segment of segments) {
      const first = segment[0] as ThroughputSample;
      const last = segment[segment.length - 1] as ThroughputSample;
      ctx.beginPath();
      for (const [i, s] of segment.entries()) {
        if (i === 0) ctx.moveTo(x(s.t), y(s.bytesPerSecond));
        else ctx.lineTo(x(s.t), y(s.bytesPerSecond));
      }
      // A lone sample gets a short tick so it shows at all.
      if (segment.length === 1) ctx.lineTo(x(first.t) + 2, y(first.bytesPerSecond));
      ctx.strokeStyle = cssColor(canvas, "--chart-line");
      ctx.lineWidth = 1.5;
      ctx.stroke();
      ctx.lineTo(x(last.t) + (segment.length === 1 ? 2 : 0), y(0));
      ctx.lineTo(x(first.t), y(0));
      ctx.closePath();
      ctx.fillStyle = cssColor(canvas, "--chart-fill");
      ctx.fill();
    }
    canvas.dataset.segments = String(segments.length);
  }, [samples, version, scheme]);
  return (
    <canvas
      ref={ref}
      style={{ width: W, height: H }}
      role="img"
      aria-label={`Throughput over the last minutes; now ${formatRate(latest?.bytesPerSecond ?? null)}`}
    />
  );
}

import type { ProgressMessage } from "@blockferry/contracts";
import { humanBytes } from "@blockferry/contracts/units";
import { PHASE_LABELS } from "@blockferry/contracts/vocabulary";

/** The dashboard's and the server messages' binary units: the same figure everywhere ("1.93 GiB"). */
export const formatBytes = (n: number): string => humanBytes(n);

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * `full_copy [#####=====--------------]  42% 27.0 MiB/64.0 MiB (13.0 MiB confirmed)  1.0 MiB/s  ETA 37 s`:
 * `#` confirmed (read back on the target and journaled), `=` streamed and awaiting that read-back.
 */
export function progressLine(p: ProgressMessage, width = 24): string {
  const streamed = p.bytesStreamed ?? 0;
  const reached = p.bytesDone + streamed;
  const frac = (n: number) => (p.bytesTotal > 0 ? Math.min(1, n / p.bytesTotal) : 0);
  const done = Math.round(frac(p.bytesDone) * width);
  const ahead = Math.max(done, Math.round(frac(reached) * width));
  const bar = `${"#".repeat(done)}${"=".repeat(ahead - done)}${"-".repeat(width - ahead)}`;
  const confirmed = streamed > 0 ? ` (${formatBytes(p.bytesDone)} confirmed)` : "";
  const eta = p.etaSeconds === null ? "" : `  ETA ${formatDuration(p.etaSeconds)}`;
  return `${PHASE_LABELS[p.phase]} [${bar}] ${String(Math.round(frac(reached) * 100)).padStart(3)}% ${formatBytes(reached)}/${formatBytes(p.bytesTotal)}${confirmed}  ${formatBytes(p.bytesPerSecond)}/s${eta}`;
}

/**
 * A disk set's progress as one message: each disk reports its own counters, so the line shows their sums (rates
 * too: the disks copy side by side) and the slowest disk's ETA, in the phase of the newest message.
 */
export function combinedProgress(latest: readonly ProgressMessage[]): ProgressMessage | null {
  const newest = latest.at(-1);
  if (!newest) return null;
  const same = latest.filter((p) => p.phase === newest.phase);
  const sum = (f: (p: ProgressMessage) => number) => same.reduce((a, p) => a + f(p), 0);
  const etas = same.flatMap((p) => (p.etaSeconds === null ? [] : [p.etaSeconds]));
  const { disk: _one, doneRuns: _runs, inFlightRuns: _inFlight, ...rest } = newest;
  return {
    ...rest,
    bytesDone: sum((p) => p.bytesDone),
    bytesTotal: sum((p) => p.bytesTotal),
    rangesDone: sum((p) => p.rangesDone),
    rangesTotal: sum((p) => p.rangesTotal),
    bytesPerSecond: sum((p) => p.bytesPerSecond),
    bytesStreamed: sum((p) => p.bytesStreamed ?? 0),
    etaSeconds: etas.length ? Math.max(...etas) : null,
  };
}

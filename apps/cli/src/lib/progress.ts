import type { ProgressMessage } from "@blockferry/contracts";

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** `full_copy [#########-----------]  45% 115.2 MiB/256.0 MiB  38.1 MiB/s  ETA 4 s` */
export function progressLine(p: ProgressMessage, width = 24): string {
  const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
  const filled = Math.round(frac * width);
  const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
  const eta = p.etaSeconds === null ? "" : `  ETA ${formatDuration(p.etaSeconds)}`;
  return `${p.phase} [${bar}] ${String(Math.round(frac * 100)).padStart(3)}% ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${formatBytes(p.bytesPerSecond)}/s${eta}`;
}

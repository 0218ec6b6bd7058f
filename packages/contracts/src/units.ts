/**
 * Byte counts in binary units, for every place a person reads one: the dashboard, the CLI, and the messages the
 * server writes into prechecks and the job log. TypeBox-free (`@blockferry/contracts/units`), so the dashboard's
 * bundle does not pull the schema runtime in.
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const;

/** 1.93 GiB, 64.0 MiB, 512 B: three significant digits at most, the unit always named. */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.99 KiB rounds to "1024 KiB" at no digits: still right, and rarer than a misleading "1.00 MiB".
  const digits = u === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${n < 0 ? "-" : ""}${v.toFixed(digits)} ${UNITS[u]}`;
}

/**
 * For server messages: the human figure with the exact count beside it, "1.93 GiB (2076180480 bytes)", so a
 * log line reads at a glance and still greps and compares exactly. Under 1 KiB the two would say the same thing.
 */
export function bytesWithExact(n: number): string {
  return Math.abs(n) < 1024 ? `${n} ${Math.abs(n) === 1 ? "byte" : "bytes"}` : `${humanBytes(n)} (${n} bytes)`;
}

/**
 * A predicted duration as a promise can be made: "under 1 s", "about 4 s", then a clock past a minute
 * ("about 1:12", "about 1:02:03"), so the dashboard and the CLI say the same predicted outage the same way.
 */
export function approxSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "unknown";
  if (seconds < 1) return "under 1 s";
  const s = Math.round(seconds);
  if (s < 60) return `about ${s} s`;
  const two = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `about ${h}:${two(m)}:${two(s % 60)}` : `about ${m}:${two(s % 60)}`;
}

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

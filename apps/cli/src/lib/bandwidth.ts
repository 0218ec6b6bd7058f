import { CliApiError } from "./api-client.ts";

const UNITS: Record<string, number> = {
  b: 1,
  k: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gib: 2 ** 30,
};
/** A plain number is MiB/s, as the wizard asks; beyond this it is surely bytes per second from older versions. */
const PLAIN_MIB_MAX = 10_000;

/**
 * `--bwlimit` in bytes per second, from MiB/s like the dashboard's wizard: `20`, `20M`, `20MiB`, `512K`, `1.5G`
 * (binary units, an optional `/s`), or exact bytes with `B`. Older versions took bytes per second as a plain
 * number: such a large plain number is refused with a hint instead of being read as thousands of MiB/s.
 */
export function parseBandwidth(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s)?$/i.exec(text.trim());
  const unit = m?.[2]?.toLowerCase() ?? "";
  const factor = unit === "" ? UNITS.m : UNITS[unit];
  if (!m?.[1] || factor === undefined)
    throw new CliApiError(`--bwlimit ${text}: give MiB/s, e.g. 20 or 20M (also K, G, or B for bytes per second)`);
  const value = Number(m[1]);
  if (unit === "" && value > PLAIN_MIB_MAX)
    throw new CliApiError(
      `--bwlimit ${text}: a plain number is MiB/s now; for bytes per second write ${m[1]}B, or e.g. 20M`,
    );
  const bytes = Math.round(value * (factor as number));
  if (bytes < 1) throw new CliApiError(`--bwlimit ${text}: must be more than 0`);
  return bytes;
}

/** A throughput sample: when it was heard (epoch ms) and the rate it reported. */
export interface RateSample {
  t: number;
  bytesPerSecond: number;
}

/** Below this, a pause between samples is jitter, however regular the samples are. */
const MIN_GAP_MS = 1000;

/**
 * The usual time between samples: the median interval, which one long pause does not move. Null with fewer than
 * two intervals to judge from.
 */
export function typicalInterval(samples: readonly RateSample[]): number | null {
  if (samples.length < 3) return null;
  const gaps = samples
    .slice(1)
    .map((s, i) => s.t - (samples[i] as RateSample).t)
    .sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)] ?? null;
}

/**
 * Splits samples (oldest first) into the stretches the chart draws as lines: where no sample came for more than
 * about two usual intervals, nothing was measured, and a line across would claim a rate nobody saw.
 */
export function splitAtGaps<T extends RateSample>(samples: readonly T[], maxGapMs?: number): T[][] {
  const interval = typicalInterval(samples);
  const limit = maxGapMs ?? Math.max(MIN_GAP_MS, interval === null ? 0 : interval * 2.5);
  const segments: T[][] = [];
  let current: T[] = [];
  for (const s of samples) {
    const prev = current[current.length - 1];
    if (prev && s.t - prev.t > limit) {
      segments.push(current);
      current = [];
    }
    current.push(s);
  }
  if (current.length > 0) segments.push(current);
  return segments;
}

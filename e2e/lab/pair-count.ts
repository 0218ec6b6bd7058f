// How many host pairs (and lab forks) a lab run uses; no Vitest import, so vitest.config.ts can read it.

/**
 * How many host pairs (and lab forks) a run uses: BLOCKFERRY_LAB_PAIRS, default 1. Two pairs finish sooner on an
 * idle machine, but on two busy cores the outage-prediction and rollback-deadline tests missed their bounds
 * (load 7-8), so CI keeps one until a quiet run proves two.
 */
export function labPairCount(): number {
  const pairs = Number(process.env.BLOCKFERRY_LAB_PAIRS ?? 1);
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > 4)
    throw new Error(`BLOCKFERRY_LAB_PAIRS must be 1..4, not ${process.env.BLOCKFERRY_LAB_PAIRS}`);
  return pairs;
}

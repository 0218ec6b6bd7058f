// How many host pairs (and lab forks) a lab run uses; no Vitest import, so vitest.config.ts can read it.

/** How many host pairs (and lab forks) a run uses; 1 when BLOCKFERRY_LAB_PAIRS says so. */
export function labPairCount(): number {
  const pairs = Number(process.env.BLOCKFERRY_LAB_PAIRS ?? 2);
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > 4)
    throw new Error(`BLOCKFERRY_LAB_PAIRS must be 1..4, not ${process.env.BLOCKFERRY_LAB_PAIRS}`);
  return pairs;
}

// Lab tests run in BLOCKFERRY_LAB_PAIRS forks (default 1), each with its own pair of booted hosts: a lab test
// spends much of its time waiting on a guest, so a second fork on a second pair can use the idle time.
// Files on the same fork share a pair and run one after another, as before.
import { inject } from "vitest";
import type { LabContext } from "./global-setup.ts";

export { labPairCount } from "./pair-count.ts";

/** This fork's hosts (lab1, lab2, ... of its own pair) and their lab directory. */
export function labPair(): LabContext {
  const pairs = inject("labPairs");
  // Vitest numbers a pool's workers from 1 and reuses the numbers: fork N always gets pair N.
  const worker = Number(process.env.VITEST_POOL_ID ?? 1);
  const pair = pairs[(worker - 1) % pairs.length];
  if (!pair) throw new Error("no lab pair: the lab project's global setup did not run");
  return pair;
}

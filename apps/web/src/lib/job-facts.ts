/** Facts of a job's history in words: pure, tested in test/job-facts.test.ts. */
import type { Migration, PassReport, RollbackReport } from "@blockferry/contracts";
import { formatBytes } from "./format.ts";
import { isTerminal } from "./job-vocabulary.ts";

/** "Full copy", "Catch-up 2", "Final delta", "Final delta 2 (after a rollback)". */
export function passLabel(p: Pick<PassReport, "kind" | "number">): string {
  if (p.kind === "full") return p.number > 1 ? `Full copy again (snapshot ${p.number})` : "Full copy";
  if (p.kind === "catch_up") return `Catch-up ${p.number}`;
  return p.number > 1 ? `Final delta ${p.number} (after a rollback)` : "Final delta";
}

/**
 * How long the job took, or has taken so far: from its first start to its end (a failed job ended at its last
 * update), or to `now` while it runs. Null before it started.
 */
export function jobDurationMs(
  m: Pick<Migration, "state" | "startedAt" | "finishedAt" | "updatedAt">,
  now: number = Date.now(),
): number | null {
  if (!m.startedAt) return null;
  // A retried job keeps the finishedAt of the attempt that rolled back: only an ended job's end counts.
  const end = isTerminal(m.state) ? (m.finishedAt ?? m.updatedAt) : null;
  const until = end ? Date.parse(end) : now;
  const d = until - Date.parse(m.startedAt);
  return Number.isFinite(d) ? Math.max(0, d) : null;
}

/** "1" for a first run; "2 (1 retry)". */
export function attemptsText(attempt: number): string {
  const n = attempt + 1;
  return n === 1 ? "1" : `${n} (${attempt} ${attempt === 1 ? "retry" : "retries"})`;
}

/**
 * What a rollback discarded, as its job.copied events recorded it: "full-g1 64.0 MiB, catchup-1 1.00 MiB" (bytes
 * read by each pass's run; a set's passes name their disk). None when the rollback came before any pass finished.
 */
export function discardedPassesText(r: Pick<RollbackReport, "discardedPasses">, disks: number): string {
  if (r.discardedPasses.length === 0) return "no finished pass";
  return r.discardedPasses
    .map((p) => `${p.pass}${disks > 1 ? ` (disk ${p.disk})` : ""} ${formatBytes(p.bytesRead)}`)
    .join(", ");
}

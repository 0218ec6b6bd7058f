import type { OutagePrediction } from "@blockferry/contracts";
import type { PhaseContext, PhaseResult } from "../context.ts";
import { decideCutover } from "../cutover-policy.ts";
import { CHANGE_READ_MS, type ChangeReader, type LiveReading, startChangeReader } from "../live-changes.ts";
import { type Overflow, pollCutover, showWait, watchSnapshot } from "./copy.ts";
import type { PhaseDeps } from "./shared.ts";

/**
 * The outage of cutting over every disk at once: the VM stops and starts once, the disks' deltas and verifies
 * follow one another. Null until every disk has a prediction.
 */
export function sumPredictions(parts: ReadonlyArray<OutagePrediction | null>): OutagePrediction | null {
  if (parts.length === 0 || parts.some((p) => p === null)) return null;
  const ps = parts as OutagePrediction[];
  const total = (f: (p: OutagePrediction) => number) => ps.reduce((a, p) => a + f(p), 0);
  const stopSeconds = Math.max(...ps.map((p) => p.parts.stopSeconds));
  const startSeconds = Math.max(...ps.map((p) => p.parts.startSeconds));
  const deltaSeconds = total((p) => p.parts.deltaSeconds);
  const verifySeconds = total((p) => p.parts.verifySeconds);
  const fixed = (p: OutagePrediction) => p.parts.stopSeconds + p.parts.startSeconds;
  const idle = ps.every((p) => p.idleOutageSeconds !== undefined)
    ? stopSeconds + startSeconds + total((p) => (p.idleOutageSeconds ?? 0) - fixed(p))
    : undefined;
  const rates = ps.map((p) => p.writeBytesPerSecond);
  return {
    outageSeconds: stopSeconds + deltaSeconds + verifySeconds + startSeconds,
    changedBytes: total((p) => p.changedBytes),
    changedRuns: total((p) => p.changedRuns),
    parts: { stopSeconds, deltaSeconds, verifySeconds, startSeconds },
    ...(idle !== undefined && { idleOutageSeconds: Math.max(0, idle) }),
    writeBytesPerSecond: rates.every((r) => r !== null) ? rates.reduce((a: number, r) => a + (r as number), 0) : null,
    basis: `the sum of ${ps.length} disks (one stop and one start; deltas and verifies in turn): ${ps[0]?.basis ?? ""}`,
    at:
      ps
        .map((p) => p.at)
        .sort()
        .at(-1) ?? new Date().toISOString(),
  };
}

/** One more catch-up pass, for every disk: the VM's one stop and start, the rest summed. */
function sumAfterOnePass(readings: ReadonlyArray<LiveReading | null>): number | null {
  if (readings.some((r) => r?.afterOnePass == null || !r.prediction)) return null;
  const rs = readings as LiveReading[];
  const fixed = (r: LiveReading) => (r.prediction?.parts.stopSeconds ?? 0) + (r.prediction?.parts.startSeconds ?? 0);
  const once = Math.max(...rs.map(fixed));
  return once + rs.reduce((a, r) => a + (r.afterOnePass ?? 0) - fixed(r), 0);
}

/**
 * wait_cutover for a disk set: every disk's snapshot is watched and its changes read, and the cutover policy decides
 * on the prediction summed over the disks. A disk whose snapshot overflowed starts over (the set goes back to the
 * snapshot phase); a pass the policy asks for runs for every disk.
 */
export async function waitCutoverForSet(
  ctx: PhaseContext,
  disks: PhaseContext[],
  deps: PhaseDeps,
): Promise<PhaseResult> {
  const readers: ChangeReader[] = [];
  const decide = () => {
    const job = ctx.reload();
    // Only readings of each disk's current snapshot decide: one taken before a rotation is old news.
    const fresh = readers.map((r, i) => {
      const reading = r.latest();
      return reading && reading.snapshot === disks[i]?.state.snapshotLv ? reading : null;
    });
    const prediction = readers.length ? sumPredictions(fresh.map((r) => r?.prediction ?? null)) : null;
    if (prediction) ctx.save({ prediction });
    return decideCutover({
      policy: job.cutoverPolicy ?? { mode: job.cutover },
      now: Date.now(),
      forced: job.cutoverRequested,
      retryAt: ctx.state.cutoverRetryAt ?? null,
      prediction,
      passesRun: ctx.state.extraPasses ?? 0,
      outageAfterOnePass: readers.length ? sumAfterOnePass(fresh) : null,
      nextLookMs: deps.changeReadMs ?? CHANGE_READ_MS,
    });
  };
  if (decide().action === "cutover") {
    showWait(ctx, null);
    return { next: "stop_vm" };
  }
  ctx.markWaiting(true);
  if (ctx.job.cutover === "manual") ctx.log("info", "full copies done: waiting for the operator to confirm cutover");
  let invalid: Overflow | null = null;
  const stops: Array<() => void> = [];
  for (const d of disks) {
    // Each disk's reader stores its own live cells; the job's prediction is the sum `decide` stores.
    const reader = startChangeReader({ ...d, save: (patch) => d.save({ ...patch, prediction: undefined }) }, deps);
    readers.push(reader);
    stops.push(
      watchSnapshot(
        d,
        deps,
        (err) => {
          invalid ??= { disk: d, err };
        },
        reader.noteStatus,
      ),
    );
  }
  try {
    const result = await pollCutover(ctx, deps, decide, () => invalid);
    if (result) return result;
  } finally {
    for (const stop of stops) stop();
    await Promise.all(readers.map((r) => r.stop()));
  }
  ctx.markWaiting(false);
  showWait(ctx, null);
  return { next: "stop_vm" };
}

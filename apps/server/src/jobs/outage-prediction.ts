import type { OutagePrediction, PhaseState } from "@blockferry/contracts";
import { humanBytes } from "@blockferry/contracts/units";

/**
 * The outage a cutover started now would cause (pure): stop + final delta (read the change list, send the changed
 * bytes, a cost per run) + verify + start. Send figures come from this migration's own passes; stop, verify and
 * start from an earlier migration's outage, else from the defaults below. `basis` names the source of each figure.
 */

/** Stated defaults, used only when nothing measured is at hand (the basis says so). */
export const DEFAULTS = {
  stopSeconds: 5,
  startSeconds: 3,
  /** Starting a final-delta copy and reading its change list, beyond the bytes and runs. */
  deltaFixedSeconds: 1,
  perRunSeconds: 0.005,
  verifyFixedSeconds: 1,
  /** Re-reading the changed bytes on both hosts (the lab's TCG guests hash ~40 MB/s; real hosts far more). */
  verifyBytesPerSecond: 50 * 1024 * 1024,
} as const;

export type PassTiming = NonNullable<PhaseState["passTimings"]>[number];

/** An earlier migration's outage, part by part (outage-history.ts reads it from that migration's events). */
export interface OutageSample {
  jobId: number;
  stopSeconds: number;
  finalDeltaSeconds: number;
  finalBytes: number;
  finalRuns: number;
  verifySeconds: number;
  startSeconds: number;
}

/** Up to a few earlier outages, newest first: the prediction takes the median of each part (one slow stop is noise). */
export interface OutageHistory {
  /** "this VM" or "these hosts": how the earlier migrations were picked. */
  match: "vm" | "hosts";
  samples: readonly OutageSample[];
}

export interface PredictionInput {
  changedBytes: number;
  changedRuns: number;
  /** Growth of the snapshot's changes now (null until two readings); the VM writes on until it is stopped. */
  writeBytesPerSecond: number | null;
  /** How long the latest reading of the change list took (the final delta reads it once more). */
  readChangesSeconds: number | null;
  /** This migration's copy passes, oldest first. */
  passes: readonly PassTiming[];
  history: OutageHistory | null;
  /** The operator's bandwidth limit now (bytes/s): the final delta goes no faster, whatever the passes measured. */
  bandwidthLimit?: number | null;
  now: number;
}

const MIN_RATE_BYTES = 1024 * 1024;
const round = (n: number, places = 2) => Math.round(n * 10 ** places) / 10 ** places;
const secs = (n: number) => `${round(n, 1)} s`;
const rateText = (bps: number) => `${humanBytes(bps)}/s`;

/** The middle value (the mean of the middle two for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** "migration #7 of this VM", or "the median of migrations #9, #8, #7 between these hosts". */
function historyText(h: OutageHistory): string {
  const where = h.match === "vm" ? "of this VM" : "between these hosts";
  const ids = h.samples.map((s) => `#${s.jobId}`);
  return ids.length === 1 ? `migration ${ids[0]} ${where}` : `the median of migrations ${ids.join(", ")} ${where}`;
}

/** Throughput of this migration's passes: all bytes over all copy time (passes under 1 MiB tell nothing of it). */
export function deltaThroughput(passes: readonly PassTiming[]): { bytesPerSecond: number; from: string } | null {
  const useful = passes.filter((p) => p.bytes >= MIN_RATE_BYTES && p.copyMs > 0);
  if (!useful.length) return null;
  const bytes = useful.reduce((s, p) => s + p.bytes, 0);
  const ms = useful.reduce((s, p) => s + p.copyMs, 0);
  return { bytesPerSecond: (bytes * 1000) / ms, from: useful.map((p) => p.pass).join(", ") };
}

/** Seconds per run beyond the bytes, from catch-up passes with enough runs to tell (null: none had). */
export function perRunCost(passes: readonly PassTiming[], bytesPerSecond: number): number | null {
  const samples = passes
    .filter((p) => !p.pass.startsWith("full") && p.runs >= 10)
    .map((p) => Math.max(0, (p.copyMs / 1000 - p.bytes / bytesPerSecond) / p.runs));
  if (!samples.length) return null;
  return Math.min(1, samples.reduce((s, x) => s + x, 0) / samples.length);
}

/** The prediction, or null while nothing tells the delta throughput yet (no pass has finished). */
export function predictOutage(input: PredictionInput): OutagePrediction | null {
  const measured = deltaThroughput(input.passes);
  if (!measured) return null;
  const limit = input.bandwidthLimit ?? null;
  const rate =
    limit !== null && limit < measured.bytesPerSecond
      ? { bytesPerSecond: limit, from: `${measured.from}, limited to ${rateText(limit)} by the bandwidth limit` }
      : measured;
  const basis: string[] = [];
  const h = input.history?.samples.length ? input.history : null;
  const earlier = h ? historyText(h) : null;
  const ofHistory = (part: (s: OutageSample) => number) => median((h?.samples ?? []).map(part));

  const measuredPerRun = perRunCost(input.passes, rate.bytesPerSecond);
  const perRun = measuredPerRun ?? DEFAULTS.perRunSeconds;
  basis.push(`delta sent at ${rateText(rate.bytesPerSecond)} (this migration's ${rate.from})`);
  basis.push(
    measuredPerRun === null
      ? `${round(perRun * 1000, 1)} ms per run (assumed)`
      : `${round(perRun * 1000, 1)} ms per run (this migration's catch-up passes)`,
  );

  const stopSeconds = h ? ofHistory((s) => s.stopSeconds) : DEFAULTS.stopSeconds;
  const startSeconds = h ? ofHistory((s) => s.startSeconds) : DEFAULTS.startSeconds;
  basis.push(
    h
      ? `stop ${secs(stopSeconds)} and start ${secs(startSeconds)} (${earlier})`
      : `stop ${secs(stopSeconds)} and start ${secs(startSeconds)} (assumed: no earlier migration of this VM or between these hosts)`,
  );

  // The VM writes until it is stopped: what it adds meanwhile is sent as well, in runs of the size seen so far.
  const rateNow = input.writeBytesPerSecond ?? 0;
  const duringStop = rateNow * stopSeconds;
  const meanRun = input.changedRuns > 0 ? input.changedBytes / input.changedRuns : 64 * 1024;
  const bytes = input.changedBytes + duringStop;
  const runs = input.changedRuns + Math.ceil(duringStop / meanRun);
  if (duringStop > 0) basis.push(`${humanBytes(duringStop)} more written while the VM stops`);

  // A final delta's fixed cost: what an earlier one took beyond its bytes and runs, else reading the list plus a default.
  let fixed: number;
  if (h) {
    fixed = ofHistory((s) =>
      Math.max(0, s.finalDeltaSeconds - s.finalBytes / rate.bytesPerSecond - s.finalRuns * perRun),
    );
    basis.push(`final delta fixed cost ${secs(fixed)} (${earlier})`);
  } else {
    fixed = (input.readChangesSeconds ?? 0) + DEFAULTS.deltaFixedSeconds;
    basis.push(
      `final delta fixed cost ${secs(fixed)} (reading the change list ${secs(input.readChangesSeconds ?? 0)}, measured, ` +
        `plus ${secs(DEFAULTS.deltaFixedSeconds)} assumed)`,
    );
  }
  const deltaSeconds = fixed + bytes / rate.bytesPerSecond + runs * perRun;

  const verifyRate = DEFAULTS.verifyBytesPerSecond;
  const verifyFixed = h
    ? ofHistory((s) => Math.max(0, s.verifySeconds - s.finalBytes / verifyRate))
    : DEFAULTS.verifyFixedSeconds;
  const verifySeconds = verifyFixed + bytes / verifyRate;
  basis.push(
    `verify ${secs(verifyFixed)} fixed (${h ? earlier : "assumed"}) plus the bytes at ${rateText(verifyRate)} (assumed)`,
  );

  return {
    outageSeconds: round(stopSeconds + deltaSeconds + verifySeconds + startSeconds),
    idleOutageSeconds: round(stopSeconds + fixed + verifyFixed + startSeconds),
    changedBytes: input.changedBytes,
    changedRuns: input.changedRuns,
    parts: {
      stopSeconds: round(stopSeconds),
      deltaSeconds: round(deltaSeconds),
      verifySeconds: round(verifySeconds),
      startSeconds: round(startSeconds),
    },
    writeBytesPerSecond: input.writeBytesPerSecond === null ? null : Math.round(input.writeBytesPerSecond),
    basis: basis.join("; "),
    at: new Date(input.now).toISOString(),
  };
}

/**
 * The outage if one more catch-up pass ran first: the pass sends today's changes (taking the prediction's delta
 * time), and the VM meanwhile writes at its current rate into the next snapshot. Null without a write rate.
 */
export function outageAfterOnePass(input: PredictionInput): number | null {
  const now = predictOutage(input);
  if (!now || input.writeBytesPerSecond === null) return null;
  const passSeconds = now.parts.deltaSeconds;
  const next = input.writeBytesPerSecond * passSeconds;
  const meanRun = input.changedRuns > 0 ? input.changedBytes / input.changedRuns : 64 * 1024;
  return predictOutage({ ...input, changedBytes: next, changedRuns: Math.ceil(next / meanRun) })?.outageSeconds ?? null;
}

/** A new prediction worth a stored event: it moved by 10% or a second (outage or changed bytes), or a minute passed. */
export function predictionMoved(before: OutagePrediction | undefined, now: OutagePrediction): boolean {
  if (!before) return true;
  const moved = (a: number, b: number, abs: number) => {
    const d = Math.abs(a - b);
    return d > 0 && (d >= abs || d >= 0.1 * Math.abs(a));
  };
  return (
    moved(before.outageSeconds, now.outageSeconds, 1) ||
    moved(before.changedBytes, now.changedBytes, Number.POSITIVE_INFINITY) ||
    Date.parse(now.at) - Date.parse(before.at) >= 60_000
  );
}

export interface Reading {
  at: number;
  changedBytes: number;
}

/**
 * How fast the changes grow: over the readings of the last `windowMs`, or over the last two readings when the
 * window holds fewer (a slow host's readings come further apart than the window); null with fewer than two.
 */
export function writeRate(readings: readonly Reading[], windowMs = 15_000): number | null {
  const last = readings[readings.length - 1];
  if (!last) return null;
  const inWindow = readings.filter((r) => last.at - r.at <= windowMs);
  const first = inWindow.length >= 2 ? inWindow[0] : readings[readings.length - 2];
  if (!first || last.at - first.at <= 0) return null;
  return Math.max(0, ((last.changedBytes - first.changedBytes) * 1000) / (last.at - first.at));
}

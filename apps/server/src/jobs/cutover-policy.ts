import type { CutoverPolicy, CutoverWait, OutagePrediction } from "@blockferry/contracts";
import { humanBytes } from "@blockferry/contracts/units";

/** Catch-up passes an automatic cutover may add to converge when the policy does not say. */
export const DEFAULT_MAX_PASSES = 5;

export interface CutoverSituation {
  policy: CutoverPolicy;
  now: number;
  /** The operator confirmed the cutover (POST /cutover): it overrides an automatic policy at any time. */
  forced: boolean;
  /** The gate refused an automatic cutover: not before then, unless forced. */
  retryAt: number | null;
  /** The latest prediction taken in this wait (a stale one from before a pass must not decide). */
  prediction: OutagePrediction | null;
  /** Catch-up passes this policy has added so far. */
  passesRun: number;
  /** Predicted outage if one more pass ran first (outage-prediction.ts); null while the write rate is unknown. */
  outageAfterOnePass: number | null;
  /** When the wait will look again by itself while a prediction is pending. */
  nextLookMs: number;
}

export type CutoverDecision =
  | { action: "cutover" }
  /** Run one more catch-up pass (rotating the snapshot), then decide again. */
  | { action: "pass"; wait: CutoverWait }
  /** Keep the VM running; `wait` null: a manual cutover waiting for the operator, as always. */
  | { action: "wait"; wait: CutoverWait | null };

const secs = (n: number) => `${Math.round(n * 10) / 10} s`;
const iso = (ms: number) => new Date(ms).toISOString();

/** What wait_cutover does now (pure): cut over, run a pass to converge, or wait and say why. */
export function decideCutover(s: CutoverSituation): CutoverDecision {
  if (s.forced) return { action: "cutover" };
  const p = s.policy;
  if (p.mode === "manual") return { action: "wait", wait: null };
  if (s.retryAt !== null && s.now < s.retryAt)
    return {
      action: "wait",
      wait: {
        reason: "gate_refused",
        message: `the last check before the stop refused the cutover; trying again at ${iso(s.retryAt)}`,
        until: iso(s.retryAt),
      },
    };
  const notBefore = p.notBefore ? Date.parse(p.notBefore) : null;
  if (notBefore !== null && s.now < notBefore)
    return {
      action: "wait",
      wait: {
        reason: "before_window",
        message: `the cutover window opens at ${p.notBefore}: the VM keeps running until then`,
        until: iso(notBefore),
      },
    };
  if (p.notAfter && s.now > Date.parse(p.notAfter))
    return {
      action: "wait",
      wait: {
        reason: "window_closed",
        message: `the cutover window closed at ${p.notAfter}: cut over now, or change the policy's window`,
        until: null,
      },
    };
  const budget = p.maxOutageSeconds;
  if (budget === undefined) return { action: "cutover" };
  const pr = s.prediction;
  // Without the write rate a prediction leaves out what the VM adds until it stops: too hopeful to cut over on.
  if (!pr || pr.writeBytesPerSecond === null)
    return {
      action: "wait",
      wait: {
        reason: "over_budget",
        message: `waiting for an outage prediction with the VM's write rate, to compare with the budget of ${secs(budget)}`,
        until: iso(s.now + s.nextLookMs),
      },
    };
  if (pr.outageSeconds <= budget) return { action: "cutover" };
  const maxPasses = p.maxPasses ?? DEFAULT_MAX_PASSES;
  const over = `the predicted outage is ${secs(pr.outageSeconds)}, over the budget of ${secs(budget)}`;
  if (s.passesRun < maxPasses)
    return {
      action: "pass",
      wait: {
        reason: "over_budget",
        message: `${over}: running catch-up pass ${s.passesRun + 1} of at most ${maxPasses} to send what changed`,
        until: null,
      },
    };
  const writes = pr.writeBytesPerSecond === null ? "" : `; the VM writes ${humanBytes(pr.writeBytesPerSecond)}/s`;
  // The writer slowed down: one more pass now would leave a delta that fits.
  if (maxPasses > 0 && s.outageAfterOnePass !== null && s.outageAfterOnePass <= budget)
    return {
      action: "pass",
      wait: {
        reason: "over_budget",
        message: `${over}${writes}, slow enough that one more pass should bring it to ${secs(s.outageAfterOnePass)}`,
        until: null,
      },
    };
  const floor = pr.idleOutageSeconds;
  const hint =
    floor !== undefined && floor > budget
      ? `. Even with nothing left to send a cutover takes ${secs(floor)}: cut over now, or raise the budget`
      : ". It cuts over by itself once the writes slow down; or cut over now, or raise the budget";
  return {
    action: "wait",
    wait: {
      reason: "not_converging",
      message: `after ${s.passesRun} ${s.passesRun === 1 ? "pass" : "passes"} ${over}${writes}${hint}`,
      until: null,
    },
  };
}

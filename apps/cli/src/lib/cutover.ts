import type { CutoverPolicy, CutoverWait, Migration, OutagePrediction } from "@blockferry/contracts";
import { approxSeconds, humanBytes } from "@blockferry/contracts/units";
import { CliApiError } from "./api-client.ts";
import { formatDuration } from "./progress.ts";

type AutoPolicy = Extract<CutoverPolicy, { mode: "auto" }>;

/** The flags that shape an automatic cutover; any of them implies `--cutover auto`. */
export const POLICY_FLAGS = ["max-outage", "max-passes", "not-before", "not-after"] as const;

// ISO 8601 date and time; without a zone it is the local time of the machine running the CLI.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

function isoFlag(name: string, text: string): string {
  const t = ISO_TIME.test(text.trim()) ? Date.parse(text.trim().replace(" ", "T")) : Number.NaN;
  if (Number.isNaN(t))
    throw new CliApiError(`--${name} ${text}: give an ISO date and time, e.g. 2026-12-03T22:00 or 2026-12-03T22:00Z`);
  return new Date(t).toISOString();
}

/**
 * The cutover policy the flags ask for: `--cutover manual|auto`, and `--max-outage SECONDS`, `--max-passes N`,
 * `--not-before ISO`, `--not-after ISO` (each implying auto). With `short`, a plain mode stays the string the API
 * has always taken ("manual", "auto") for servers and scripts that know no policy object.
 */
export function cutoverFromFlags(
  flags: ReadonlyMap<string, string>,
  opts: { short: boolean } = { short: true },
): CutoverPolicy | "manual" | "auto" {
  const mode = flags.get("cutover");
  if (mode !== undefined && mode !== "manual" && mode !== "auto")
    throw new CliApiError(`--cutover ${mode}: give manual or auto`);
  const given = POLICY_FLAGS.filter((f) => flags.has(f));
  if (mode === "manual" && given.length)
    throw new CliApiError(`--${given[0]} sets an automatic cutover: drop --cutover manual (or that flag)`);
  if (!given.length) {
    const m = mode ?? "manual";
    return opts.short ? m : { mode: m };
  }
  const policy: AutoPolicy = { mode: "auto" };
  const outage = flags.get("max-outage");
  if (outage !== undefined) {
    const n = Number(outage);
    if (!outage.trim() || !Number.isFinite(n) || n < 0.1 || n > 86_400)
      throw new CliApiError(`--max-outage ${outage}: give seconds from 0.1 to 86400`);
    policy.maxOutageSeconds = n;
  }
  const passes = flags.get("max-passes");
  if (passes !== undefined) {
    const n = Number(passes);
    if (!/^\d+$/.test(passes.trim()) || n > 50) throw new CliApiError(`--max-passes ${passes}: give 0 to 50`);
    policy.maxPasses = n;
  }
  const notBefore = flags.get("not-before");
  if (notBefore !== undefined) policy.notBefore = isoFlag("not-before", notBefore);
  const notAfter = flags.get("not-after");
  if (notAfter !== undefined) policy.notAfter = isoFlag("not-after", notAfter);
  if (policy.notBefore && policy.notAfter && Date.parse(policy.notAfter) <= Date.parse(policy.notBefore))
    throw new CliApiError("--not-after must be later than --not-before: the window would be empty");
  return policy;
}

/** "cut over now: about 4 s of downtime (12.3 MiB changed)". */
export const predictionLine = (p: Pick<OutagePrediction, "outageSeconds" | "changedBytes">): string =>
  `cut over now: ${approxSeconds(p.outageSeconds)} of downtime (${humanBytes(p.changedBytes)} changed)`;

/** Why an automatic cutover waits, and what comes next: it looks again by itself, or an operator decides. */
export function waitLine(w: CutoverWait, id: number): string {
  const next =
    w.until === null
      ? `waits for an operator: blockferry migrate cutover ${id}, or change the policy with blockferry migrate policy ${id}`
      : `looks again at ${new Date(w.until).toLocaleTimeString()}`;
  return `waiting (${w.reason.replaceAll("_", " ")}): ${w.message}; ${next}`;
}

/** The phases before the VM is stopped: a prediction or a wait still means something there. */
const BEFORE_STOP = new Set<Migration["phase"]>([
  "prechecks",
  "snapshot",
  "prepare_target",
  "full_copy",
  "catch_up",
  "wait_cutover",
]);
export const beforeStop = (phase: Migration["phase"]): boolean => BEFORE_STOP.has(phase);
export const cutoverAhead = (m: Pick<Migration, "state" | "phase">): boolean =>
  (m.state === "queued" || m.state === "running" || m.state === "waiting_cutover") && BEFORE_STOP.has(m.phase);

/** "outage 2.3 s of a 5 s budget", with "OVER" when past it; null before any outage was measured. */
export function outageText(m: Pick<Migration, "outageMs" | "cutoverPolicy" | "predictedOutageSeconds">): string | null {
  if (m.outageMs === null) return null;
  const measured = `outage ${formatDuration(m.outageMs / 1000)}`;
  const predicted = m.predictedOutageSeconds === null ? "" : ` (predicted ${approxSeconds(m.predictedOutageSeconds)})`;
  const budget = m.cutoverPolicy.mode === "auto" ? m.cutoverPolicy.maxOutageSeconds : undefined;
  if (budget === undefined) return `${measured}${predicted}`;
  return `${measured}${predicted}, ${m.outageMs > budget * 1000 ? "OVER the" : "within the"} ${budget} s budget`;
}

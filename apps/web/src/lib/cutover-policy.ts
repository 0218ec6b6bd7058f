/**
 * The cutover policy as the dashboard edits it (the wizard's and the job page's fields), the outage prediction in
 * words, and the measured outage against the budget. Pure; tested in test/cutover-policy.test.ts.
 */
import type { CreateMigration, CutoverPolicy, Migration, OutagePrediction } from "@blockferry/contracts";
import { approxSeconds, humanBytes } from "@blockferry/contracts/units";

export type AutoPolicy = Extract<CutoverPolicy, { mode: "auto" }>;

/** The fields as typed: seconds, a count, and two datetime-local values ("2026-12-03T08:30"), empty for none. */
export interface PolicyFields {
  maxOutageSeconds: string;
  maxPasses: string;
  notBefore: string;
  notAfter: string;
}
export type PolicyField = keyof PolicyFields;
export type PolicyErrors = Partial<Record<PolicyField, string>>;

export const emptyPolicyFields = (): PolicyFields => ({
  maxOutageSeconds: "",
  maxPasses: "",
  notBefore: "",
  notAfter: "",
});

/** The contract's bounds (CutoverPolicy), so a field says what the server would refuse before it is sent. */
export const POLICY_BOUNDS = { minOutage: 0.1, maxOutage: 86_400, maxPasses: 50 } as const;

const two = (n: number) => String(n).padStart(2, "0");

/** An ISO time as a datetime-local input holds it, in the browser's zone; seconds only when there are some. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const day = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  const time = `${two(d.getHours())}:${two(d.getMinutes())}${d.getSeconds() ? `:${two(d.getSeconds())}` : ""}`;
  return `${day}T${time}`;
}

/** A datetime-local value (local time, no zone) as an ISO time; null when it is not one. */
export function fromLocalInput(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return null;
  const d = new Date(value); // without a zone, a date-time form is local time
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export const hasPolicyFields = (f: PolicyFields): boolean => Object.values(f).some((v) => v.trim() !== "");

/** The fields of a stored policy (all empty for a manual one). */
export function policyFields(p: CutoverPolicy): PolicyFields {
  if (p.mode === "manual") return emptyPolicyFields();
  return {
    maxOutageSeconds: p.maxOutageSeconds === undefined ? "" : String(p.maxOutageSeconds),
    maxPasses: p.maxPasses === undefined ? "" : String(p.maxPasses),
    notBefore: toLocalInput(p.notBefore),
    notAfter: toLocalInput(p.notAfter),
  };
}

/** An automatic policy from the fields, or what is wrong with each field that is not usable. */
export function readAutoPolicy(f: PolicyFields): { policy: AutoPolicy | null; errors: PolicyErrors } {
  const errors: PolicyErrors = {};
  const policy: AutoPolicy = { mode: "auto" };
  const budget = f.maxOutageSeconds.trim();
  if (budget) {
    const n = Number(budget);
    if (Number.isFinite(n) && n >= POLICY_BOUNDS.minOutage && n <= POLICY_BOUNDS.maxOutage) policy.maxOutageSeconds = n;
    else errors.maxOutageSeconds = `Seconds from ${POLICY_BOUNDS.minOutage} to ${POLICY_BOUNDS.maxOutage} (a day).`;
  }
  const passes = f.maxPasses.trim();
  if (passes) {
    const n = Number(passes);
    if (Number.isInteger(n) && n >= 0 && n <= POLICY_BOUNDS.maxPasses) policy.maxPasses = n;
    else errors.maxPasses = `A whole number from 0 to ${POLICY_BOUNDS.maxPasses}.`;
  }
  for (const key of ["notBefore", "notAfter"] as const) {
    const v = f[key].trim();
    if (!v) continue;
    const iso = fromLocalInput(v);
    if (iso) policy[key] = iso;
    else errors[key] = "Not a date and time.";
  }
  if (policy.notBefore && policy.notAfter && Date.parse(policy.notAfter) <= Date.parse(policy.notBefore))
    errors.notAfter = "Must be later than “not before”: the window would be empty.";
  return Object.keys(errors).length ? { policy: null, errors } : { policy, errors };
}

/** The policy the mode and fields describe (manual ignores the fields). */
export function readPolicy(
  mode: CutoverPolicy["mode"],
  f: PolicyFields,
): { policy: CutoverPolicy | null; errors: PolicyErrors } {
  return mode === "manual" ? { policy: { mode: "manual" }, errors: {} } : readAutoPolicy(f);
}

/**
 * What the wizard sends as `cutover`: the short "manual" or "auto" as before when no budget, pass limit or window
 * is set; the policy object otherwise; null while a field is not usable.
 */
export function cutoverRequest(mode: CutoverPolicy["mode"], f: PolicyFields): CreateMigration["cutover"] | null {
  if (mode === "manual" || !hasPolicyFields(f)) return mode;
  return readAutoPolicy(f).policy;
}

/**
 * Maps a 400's validation details (Ajv-style `instancePath`s, "/maxOutageSeconds") to the fields they name; what
 * names no field stays in the general message.
 */
export function serverFieldErrors(details: unknown): PolicyErrors {
  const errors: PolicyErrors = {};
  if (!Array.isArray(details)) return errors;
  for (const d of details) {
    if (typeof d !== "object" || d === null) continue;
    const { instancePath, message } = d as { instancePath?: unknown; message?: unknown };
    const field = typeof instancePath === "string" ? instancePath.replace(/^\//, "") : "";
    if (field === "maxOutageSeconds" || field === "maxPasses" || field === "notBefore" || field === "notAfter")
      errors[field] ??= typeof message === "string" ? `The server refused it: ${message}.` : "The server refused it.";
  }
  return errors;
}

/** The policy in a few words: "manual", "automatic, budget 5 s, up to 3 passes, not before 3 Dec 08:30". */
export function policyWords(p: CutoverPolicy, time: (iso: string) => string): string {
  if (p.mode === "manual") return "manual: an operator cuts over";
  const parts = ["automatic"];
  if (p.maxOutageSeconds !== undefined) parts.push(`outage budget ${p.maxOutageSeconds} s`);
  if (p.maxPasses !== undefined) parts.push(`up to ${p.maxPasses} catch-up ${p.maxPasses === 1 ? "pass" : "passes"}`);
  if (p.notBefore) parts.push(`not before ${time(p.notBefore)}`);
  if (p.notAfter) parts.push(`not after ${time(p.notAfter)}`);
  if (parts.length === 1) parts.push("as soon as the copy is in sync");
  return parts.join(", ");
}

/** "about 4 s of downtime". */
export const downtimeWords = (p: Pick<OutagePrediction, "outageSeconds">): string =>
  `${approxSeconds(p.outageSeconds)} of downtime`;

/** The prediction's parts, each a short line: where the figure comes from is in `basis`. */
export function predictionParts(p: OutagePrediction): { label: string; value: string }[] {
  const s = (n: number) => `${n < 10 ? n.toFixed(1) : Math.round(n)} s`;
  return [
    {
      label: "Changed since the last pass",
      value: `${humanBytes(p.changedBytes)} in ${p.changedRuns.toLocaleString()} runs`,
    },
    { label: "Stop the VM", value: s(p.parts.stopSeconds) },
    { label: "Final delta", value: s(p.parts.deltaSeconds) },
    { label: "Verify", value: s(p.parts.verifySeconds) },
    { label: "Start the VM", value: s(p.parts.startSeconds) },
    {
      label: "The VM writes",
      value: p.writeBytesPerSecond === null ? "not measured yet" : `${humanBytes(p.writeBytesPerSecond)}/s of changes`,
    },
  ];
}

/** Of two predictions (the job row's, the newest event's), the one taken last. */
export function newerPrediction(
  a: OutagePrediction | null | undefined,
  b: OutagePrediction | null | undefined,
): OutagePrediction | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return Date.parse(b.at) > Date.parse(a.at) ? b : a;
}

/** The outage budget a migration ran under, in seconds; null without one. */
export const budgetOf = (m: Pick<Migration, "cutoverPolicy">): number | null =>
  m.cutoverPolicy.mode === "auto" ? (m.cutoverPolicy.maxOutageSeconds ?? null) : null;

/** Whether the measured outage went past the budget (false while either is unknown). */
export function overBudget(m: Pick<Migration, "cutoverPolicy" | "outageMs">): boolean {
  const budget = budgetOf(m);
  return budget !== null && m.outageMs !== null && m.outageMs > budget * 1000;
}

/** Phases after which the VM is (being) stopped: the server refuses a policy change (409) and a prediction is moot. */
const STOPPING = new Set<Migration["phase"]>(["stop_vm", "final_delta", "verify", "start_vm", "cleanup", "done"]);
const MOVING = new Set<Migration["state"]>(["queued", "running", "waiting_cutover"]);

/** Whether the cutover is still ahead: its policy can change and a prediction means something. */
export const cutoverAhead = (m: Pick<Migration, "state" | "phase">): boolean =>
  MOVING.has(m.state) && !STOPPING.has(m.phase);

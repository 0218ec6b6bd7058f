/**
 * Job states and phases: the one definition the server (db schema, runner), the dashboard and the CLI share.
 * Plain constants without TypeBox, so the dashboard can import them (`@blockferry/contracts/vocabulary`) without
 * pulling the TypeBox runtime into its bundle; the API schemas in migrations.ts are built from these lists.
 */

/** Words for a list of identifiers: the identifier with spaces for underscores, unless `except` says otherwise. */
function labelsFor<K extends string>(keys: readonly K[], except: Partial<Record<K, string>> = {}): Record<K, string> {
  return Object.fromEntries(keys.map((k) => [k, except[k] ?? k.replaceAll("_", " ")])) as Record<K, string>;
}

export const JOB_STATES = [
  "queued",
  "running",
  "waiting_cutover",
  "cancelling",
  "succeeded",
  "failed",
  "cancelled",
  "rolled_back",
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States in which a job still needs its hosts and the objects it created (a runner may pick it up). */
export const ACTIVE_JOB_STATES = [
  "queued",
  "running",
  "waiting_cutover",
  "cancelling",
] as const satisfies readonly JobState[];
export type ActiveJobState = (typeof ACTIVE_JOB_STATES)[number];

/** States a job never leaves by itself (a retry or a cancel of a failed job is an operator's new start). */
export const TERMINAL_JOB_STATES = [
  "succeeded",
  "failed",
  "cancelled",
  "rolled_back",
] as const satisfies readonly JobState[];
export type TerminalJobState = (typeof TERMINAL_JOB_STATES)[number];

/** How the dashboard and the CLI name a state (lower case: it also reads inside a sentence). */
export const JOB_STATE_LABELS = labelsFor(JOB_STATES, { waiting_cutover: "waiting for cutover" });

/** Phases in order; a job records the one it is in, and a retry re-enters the failed one. */
export const PHASES = [
  "prechecks",
  "snapshot",
  "prepare_target",
  "full_copy",
  "catch_up",
  "wait_cutover",
  "stop_vm",
  "final_delta",
  "verify",
  "start_vm",
  "cleanup",
  "done",
] as const;
export type Phase = (typeof PHASES)[number];

/** How the dashboard and the CLI name a phase: words, never the key (no "final_delta", no "wait cutover"). */
export const PHASE_LABELS = labelsFor(PHASES, {
  prepare_target: "prepare destination",
  catch_up: "catch-up",
  wait_cutover: "waiting for cutover",
  stop_vm: "stop VM",
  start_vm: "start VM",
  cleanup: "clean-up",
});

/**
 * The transfer journal's pass names, as the copy phases build them (apps/server/src/jobs/phases): "full-g<n>" (the
 * full copy from snapshot generation n, above 1 after a fallback), "catchup-<n>" ("-f<k>" after the k-th fallback
 * to a full copy: the passes count again from 1), "final" or "final-full" (the whole volume: the snapshot
 * overflowed), "-r<n>" after the n-th rollback. Groups: generation, catch-up, fallback, "-full", rollback.
 */
export const PASS_NAME =
  /^(?:full-g([1-9]\d{0,5})|catchup-([1-9]\d{0,5})(?:-f([1-9]\d{0,5}))?|final(-full)?(?:-r([1-9]\d{0,5}))?)$/;

/** What a pass name says, as the report counts passes: which kind, the how-manieth of it, and a whole-volume final. */
export interface PassName {
  kind: "full" | "catch_up" | "final";
  /** Full: the snapshot generation; catch-up: its number; final: 1, and r + 1 after the r-th rollback. */
  number: number;
  /** "final-full...": the final delta copied the whole volume (the snapshot overflowed). */
  whole: boolean;
}

/** A pass name read by PASS_NAME; null for a name the journal does not make. */
export function parsePassName(pass: string): PassName | null {
  const m = PASS_NAME.exec(pass);
  if (!m) return null;
  const [, generation, catchUp, , whole, rollback] = m;
  if (generation) return { kind: "full", number: Number(generation), whole: false };
  if (catchUp) return { kind: "catch_up", number: Number(catchUp), whole: false };
  return { kind: "final", number: rollback ? Number(rollback) + 1 : 1, whole: whole !== undefined };
}

/**
 * Phases from the point of no return on: start_vm may already have started the VM on the target, so rolling back
 * would throw away what it wrote there.
 */
export const NO_RETURN_PHASES = ["start_vm", "cleanup", "done"] as const satisfies readonly Phase[];

const isMember =
  <T extends string>(list: readonly T[]) =>
  (value: string): value is T =>
    list.some((member) => member === value);

export const isJobState = isMember<JobState>(JOB_STATES);
export const isActiveJobState = isMember<ActiveJobState>(ACTIVE_JOB_STATES);
export const isTerminalJobState = isMember<TerminalJobState>(TERMINAL_JOB_STATES);
export const isPhase = isMember<Phase>(PHASES);
export const isPastNoReturn = (phase: Phase): boolean => isMember(NO_RETURN_PHASES)(phase);

/** The data paths an operator chooses between (options.dataPath), with a line on each for the wizard and the CLI. */
export const DATA_PATH_CHOICES = {
  auto: "direct when the source host reaches the destination, else through this server (the reason is logged)",
  direct: "source host to destination host over their own SSH; the migration fails if they cannot reach each other",
  relay: "through this server: works whenever the server reaches both hosts, its link is the limit",
} as const;

/**
 * What a job's copies took, in words (Migration.dataPath): "direct", "relay: <why auto took it>", or what was
 * asked for while no copy has run yet ("auto (not decided yet)").
 */
export function dataPathSummary(v: {
  requested: "auto" | "direct" | "relay";
  ran: "direct" | "relay" | null;
  reason: string | null;
}): string {
  if (v.ran === null) return v.requested === "relay" ? "relay" : `${v.requested} (not decided yet)`;
  return v.ran === "relay" && v.reason ? `relay: ${v.reason}` : v.ran;
}

import type { JobState, Phase } from "@blockferry/contracts";

/**
 * Phases and job states as runtime values. @blockferry/contracts has them too, but importing any value from it
 * pulls the TypeBox runtime into the bundle (+48 KB, +15 KB gzip). The types below fail the typecheck when the
 * contracts gain or lose a member, and test/job-vocabulary.test.ts checks the order against contracts' PHASES.
 */
export const PHASE_ORDER = [
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
] as const satisfies readonly Phase[];

export const JOB_STATE_LABELS: Record<JobState, string> = {
  queued: "queued",
  running: "running",
  waiting_cutover: "waiting for cutover",
  cancelling: "cancelling",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
  rolled_back: "rolled back",
};
export const JOB_STATES = Object.keys(JOB_STATE_LABELS) as JobState[];

type MissingPhase = Exclude<Phase, (typeof PHASE_ORDER)[number]>;
export const phasesComplete: [MissingPhase] extends [never] ? true : MissingPhase = true;

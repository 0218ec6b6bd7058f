import type { JobRow } from "../db/repositories/jobs.ts";
import { isPastNoReturn } from "./context.ts";

/** States whose runner (or the queue) still takes a cancel flag; a failed job is cancelled by queueing its clean-up. */
export const CANCEL_FLAG_STATES = ["queued", "running", "waiting_cutover"] as const;

/**
 * Why a cancel would be refused now, or null when it would be accepted. The service enforces this (its conditional
 * updates settle races with the runner) and the API view shows it as `cancellable`, so the dashboard never needs
 * the phase rules:
 * - "vm_started": a failed job after the VM was, or may have been, started from the target;
 * - "past_no_return": a job in start_vm or later (see NO_RETURN_PHASES);
 * - "not_cancellable_state": already cancelling, or finished.
 */
export function cancelRefusal(
  job: Pick<JobRow, "state" | "phase" | "phaseState">,
): "vm_started" | "past_no_return" | "not_cancellable_state" | null {
  if (job.state === "rolled_back") return null; // the VM runs on the source again: nothing ran on the target
  if (job.state === "failed") {
    const ps = job.phaseState;
    // Once a start on the target was decided (fencing) it may have run: the source must not start too.
    const started = Boolean(ps.vmStartedAt) || ps.startDecision?.host === "target";
    // A job that failed in start_vm before the VM came up can still roll back.
    return started || (isPastNoReturn(job.phase) && job.phase !== "start_vm") ? "vm_started" : null;
  }
  if (isPastNoReturn(job.phase)) return "past_no_return";
  return CANCEL_FLAG_STATES.some((s) => s === job.state) ? null : "not_cancellable_state";
}

import type { Migration, OutagePrediction } from "@blockferry/contracts";
import { useState } from "react";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { errorText } from "../../lib/api.ts";
import { cutoverAhead, downtimeWords } from "../../lib/cutover-policy.ts";
import { phaseLabel } from "../../lib/format.ts";
import { isActive, type JobAction, useJobAction } from "../jobs/api.ts";
import { RemoveSourceAction, SourceRemovedNote } from "./SourceDecommission.tsx";

const COPY: Record<JobAction, { title: string; confirm: string; danger: boolean; body: (m: Migration) => string }> = {
  cutover: {
    title: "Cut over now?",
    confirm: "Stop the VM and cut over",
    danger: false,
    body: (m) =>
      `The VM on the source is stopped, the last changed chunks of ${m.source.vg}/${m.source.lv} are copied and verified, and the VM starts on the destination. It is down for the whole final delta.`,
  },
  cancel: {
    title: "Cancel this migration?",
    confirm: "Cancel migration",
    danger: true,
    body: (m) =>
      `Blockferry stops the copy, removes the snapshots it made${m.options.removeTargetOnCancel === false ? "" : " and the destination LV it created"}, and restarts the source VM if it stopped it.`,
  },
  retry: {
    title: "Retry this migration?",
    confirm: "Retry",
    danger: false,
    body: (m) =>
      `The job runs again from the ${phaseLabel(m.error?.phase ?? m.phase)} phase, keeping what is already copied.`,
  },
};

/**
 * Why Cancel is disabled. The server decides whether a cancel would be accepted (`cancellable`, the rule its cancel
 * endpoint enforces); the state tells which of its reasons applies. `note` is shown beside the buttons, the rest only
 * as the button's tooltip.
 */
function cancelBlocked(job: Migration): { reason: string; note: boolean } | null {
  if (job.cancellable) return null;
  if (job.state === "failed")
    return {
      reason:
        "Cancel is not possible: the VM was started from the destination, and rolling back would lose what it wrote there. Retry to finish the clean-up.",
      note: true,
    };
  if (job.state === "cancelling") return { reason: "The migration is already being cancelled.", note: false };
  if (isActive(job.state))
    return {
      reason:
        "Past the point of no return: the VM is being started, or runs, from the destination, and rolling back would lose what it wrote there. The migration finishes on its own.",
      note: true,
    };
  return { reason: "The migration has ended: there is nothing to cancel.", note: false };
}

/** States a retry starts again from (the server's RETRYABLE_STATES). */
const RETRYABLE = new Set<Migration["state"]>(["failed", "rolled_back"]);

/**
 * The actions that apply to the job as it is now, and only those: nothing on a finished job. A disabled Cancel
 * stays only where its reason is worth reading (past the point of no return, or a failure after the VM started).
 */
export function JobActions({ job, prediction }: { job: Migration; prediction: OutagePrediction | null }) {
  const action = useJobAction(job.id);
  const [asking, setAsking] = useState<JobAction | null>(null);
  const blocked = cancelBlocked(job);
  const show: Record<JobAction, boolean> = {
    // An automatic cutover that waits (budget, window) can be forced while the VM still runs on the source.
    cutover: job.state === "waiting_cutover" || (job.cutoverWait !== null && cutoverAhead(job)),
    retry: RETRYABLE.has(job.state),
    // A failed job can often still be cancelled (that cleans up what it created); the server says when.
    cancel: blocked === null || blocked.note,
  };
  const copy = asking ? COPY[asking] : null;
  // After a success the one thing left to do is removing the kept source LV, then saying it was.
  if (job.state === "succeeded")
    return (
      <fieldset className="job-actions">
        <legend className="sr-only">Job actions</legend>
        <RemoveSourceAction job={job} />
        <SourceRemovedNote job={job} />
      </fieldset>
    );
  if (!show.cutover && !show.retry && !show.cancel) return null;
  return (
    <fieldset className="job-actions">
      <legend className="sr-only">Job actions</legend>
      {show.cutover ? (
        <button type="button" className="primary" onClick={() => setAsking("cutover")}>
          Cut over…
        </button>
      ) : null}
      {show.retry ? (
        <button type="button" onClick={() => setAsking("retry")}>
          Retry…
        </button>
      ) : null}
      {show.cancel ? (
        <button
          type="button"
          className="danger"
          disabled={blocked !== null}
          title={blocked?.reason}
          aria-describedby={blocked?.note ? "cancel-blocked" : undefined}
          onClick={() => setAsking("cancel")}
        >
          Cancel…
        </button>
      ) : null}
      {blocked?.note ? (
        <p id="cancel-blocked" className="action-note muted small">
          {blocked.reason}
        </p>
      ) : null}
      {asking && copy ? (
        <ConfirmDialog
          open
          title={copy.title}
          confirmLabel={copy.confirm}
          danger={copy.danger}
          busy={action.isPending}
          error={action.isError ? errorText(action.error) : null}
          onCancel={() => {
            action.reset();
            setAsking(null);
          }}
          onConfirm={() => action.mutate(asking, { onSuccess: () => setAsking(null) })}
        >
          <p>{copy.body(job)}</p>
          {asking === "cutover" && prediction ? (
            <p data-testid="cutover-dialog-prediction">
              <strong>Predicted: {downtimeWords(prediction)}.</strong>
            </p>
          ) : null}
        </ConfirmDialog>
      ) : null}
    </fieldset>
  );
}

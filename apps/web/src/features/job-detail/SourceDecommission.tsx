import type { Migration } from "@blockferry/contracts";
import { useState } from "react";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { errorText } from "../../lib/api.ts";
import { formatTime } from "../../lib/format.ts";
import { useDecommissionSource } from "../jobs/api.ts";

/** When and by whom the kept source LV was removed; nothing while it is kept (or the job did not succeed). */
export function SourceRemovedNote({ job }: { job: Migration }) {
  if (!job.sourceDecommissionedAt) return null;
  return (
    <p className="action-note muted small" data-testid="source-removed">
      Source LV {job.source.vg}/{job.source.lv} removed {formatTime(job.sourceDecommissionedAt)} by{" "}
      {job.sourceDecommissionedBy ?? "an operator"}.
    </p>
  );
}

/**
 * "Remove source LV" on a succeeded job whose source LV is still kept: the dialog asks for the LV's vg/lv typed
 * out, since this is the one action that deletes data the migration did not create.
 */
export function RemoveSourceAction({ job }: { job: Migration }) {
  const remove = useDecommissionSource(job.id);
  const [asking, setAsking] = useState(false);
  const name = `${job.source.vg}/${job.source.lv}`;
  if (job.state !== "succeeded" || job.sourceDecommissionedAt) return null;
  return (
    <>
      <button type="button" className="danger" onClick={() => setAsking(true)}>
        Remove source LV…
      </button>
      <ConfirmDialog
        open={asking}
        title="Remove the source LV?"
        confirmLabel="Remove source LV"
        danger
        busy={remove.isPending}
        error={remove.isError ? errorText(remove.error) : null}
        typed={{ expected: name, label: <>Type {name} to confirm</> }}
        onCancel={() => {
          remove.reset();
          setAsking(false);
        }}
        onConfirm={() => remove.mutate(name, { onSuccess: () => setAsking(false) })}
      >
        <p>
          The VM now runs from the destination. This deletes the copy of <code>{name}</code> kept on the source host (
          <code>lvremove</code>); it cannot be undone. It is refused while anything still has the LV open.
        </p>
      </ConfirmDialog>
    </>
  );
}

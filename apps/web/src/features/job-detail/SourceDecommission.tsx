import { decommissionConfirmText, type Migration } from "@blockferry/contracts";
import { useState } from "react";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { errorText } from "../../lib/api.ts";
import { formatTime } from "../../lib/format.ts";
import { useDecommissionSource } from "../jobs/api.ts";

const nameOf = (v: { vg: string; lv: string }) => `${v.vg}/${v.lv}`;

/**
 * When and by whom the kept source LVs were removed, or, after a removal that stopped part-way, which are gone and
 * which are still kept; nothing while all are kept (or the job did not succeed).
 */
export function SourceRemovedNote({ job }: { job: Migration }) {
  const names = job.disks.map((d) => nameOf(d.source));
  if (job.sourceDecommissionedAt)
    return (
      <p className="action-note muted small" data-testid="source-removed">
        Source {names.length === 1 ? "LV" : "LVs"} {names.join(", ")} removed {formatTime(job.sourceDecommissionedAt)}{" "}
        by {job.sourceDecommissionedBy ?? "an operator"}.
      </p>
    );
  const removed = job.disks.filter((d) => d.sourceRemovedAt !== null);
  if (job.state !== "succeeded" || removed.length === 0) return null;
  const kept = job.disks.filter((d) => d.sourceRemovedAt === null);
  return (
    <p className="action-note small" data-testid="source-partly-removed">
      Removed: {removed.map((d) => nameOf(d.source)).join(", ")}. Still kept:{" "}
      {kept.map((d) => nameOf(d.source)).join(", ")} (removing again removes only these).
    </p>
  );
}

/**
 * "Remove source LV" on a succeeded job whose source LVs are still kept (one per disk of the VM): the dialog asks
 * for every one's vg/lv typed out, since this is the one action that deletes data the migration did not create.
 */
export function RemoveSourceAction({ job }: { job: Migration }) {
  const remove = useDecommissionSource(job.id);
  const [asking, setAsking] = useState(false);
  const expected = decommissionConfirmText(job.disks.map((d) => d.source));
  if (job.state !== "succeeded" || job.sourceDecommissionedAt) return null;
  const set = job.disks.length > 1;
  return (
    <>
      <button type="button" className="danger" onClick={() => setAsking(true)}>
        {set ? "Remove source LVs…" : "Remove source LV…"}
      </button>
      <ConfirmDialog
        open={asking}
        title={set ? `Remove the ${job.disks.length} source LVs?` : "Remove the source LV?"}
        confirmLabel={set ? "Remove source LVs" : "Remove source LV"}
        danger
        busy={remove.isPending}
        error={remove.isError ? errorText(remove.error) : null}
        typed={{
          expected,
          label: set ? (
            <>Type {expected} to confirm (every LV, disk 0 first, joined by commas)</>
          ) : (
            <>Type {expected} to confirm</>
          ),
        }}
        onCancel={() => {
          remove.reset();
          setAsking(false);
        }}
        onConfirm={() => remove.mutate(expected, { onSuccess: () => setAsking(false) })}
      >
        {set ? (
          <>
            <p>
              The VM now runs from the destination. This deletes the copy of each of its disks kept on the source host (
              <code>lvremove</code>, one by one); it cannot be undone. Each is checked first, and none is removed while
              any of them is still open, untagged or used by another migration.
            </p>
            <ul className="decommission-list" data-testid="decommission-list">
              {job.disks.map((d) => (
                <li key={d.index}>
                  disk {d.index}: <code>{nameOf(d.source)}</code>
                  {d.sourceRemovedAt ? <span className="muted"> (removed already)</span> : null}
                </li>
              ))}
            </ul>
          </>
        ) : (
          <p>
            The VM now runs from the destination. This deletes the copy of <code>{expected}</code> kept on the source
            host (<code>lvremove</code>); it cannot be undone. It is refused while anything still has the LV open.
          </p>
        )}
      </ConfirmDialog>
    </>
  );
}

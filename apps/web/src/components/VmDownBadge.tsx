import type { Migration } from "@blockferry/contracts";
import { formatClock } from "../lib/format.ts";

/** Marks a migration whose VM is stopped by the cutover and running nowhere yet (vmOutage from the server). */
export function VmDownBadge({ job }: { job: Pick<Migration, "id" | "vmOutage"> }) {
  const o = job.vmOutage;
  if (!o || o.state === "back_on_source") return null;
  return (
    <span
      className="badge vm-down"
      title={`the VM is stopped since ${formatClock(o.since)}`}
      data-testid={`job-vm-down-${job.id}`}
    >
      VM down
    </span>
  );
}

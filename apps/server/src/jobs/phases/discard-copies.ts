import type { PhaseContext } from "../context.ts";
import { startOverDiskState } from "../disk-context.ts";
import { disksOfJob } from "../migration-disks.ts";
import { removeJobLvs } from "./remove-lvs.ts";
import type { PhaseDeps } from "./shared.ts";

/** How long a rollback waits for the target's removals: the target may be the host that just failed. */
export const TARGET_REMOVAL_BOUND_MS = 20_000;

/**
 * After a rollback (the VM runs on the source again): removes every snapshot and target LV of the job and sets
 * each disk back to the start, so a retry begins from prechecks with new snapshots and full copies. A kept
 * classic snapshot would tax each of the running VM's writes (and could overflow) until someone retried, and the
 * target failed during the outage, so its copy is suspect anyway. A target LV that cannot be removed now (its host
 * went silent during the outage, or does not answer within the bound) stays recorded: a retry reuses it and copies it whole, a cancel removes it.
 * Returns what could not be removed, for the job log.
 */
export async function discardCopies(
  ctx: PhaseContext,
  deps: Pick<PhaseDeps, "objects" | "disks" | "forgetCopies">,
  opts: { targetLost?: boolean; targetRemovalBoundMs?: number } = {},
): Promise<string[]> {
  const { job } = ctx;
  const keepTargets = job.options.removeTargetOnCancel === false;
  const { failures, targetsLeft } = await removeJobLvs(ctx, deps, {
    purpose: "rollback",
    keepTargets,
    keptNote: keepTargets ? " as asked" : "",
    // A target that went silent during the outage is not waited for again: the VM runs, the job ends now.
    targetSignal: opts.targetLost
      ? AbortSignal.abort()
      : AbortSignal.timeout(opts.targetRemovalBoundMs ?? TARGET_REMOVAL_BOUND_MS),
  });
  deps.forgetCopies?.(job.id, ctx.leaseOwner);
  const disks = disksOfJob(job, deps.disks?.list(job.id) ?? []);
  for (const disk of disks) {
    const left = targetsLeft.has(`${disk.targetVg}/${disk.targetLv}`);
    if (disk.index === 0) {
      ctx.save({
        ...startOverDiskState(ctx.state, left),
        // What the job's cutover knew belongs to the copies that are gone.
        extraPasses: undefined,
        cutoverRetryAt: undefined,
        cutoverWait: undefined,
        prediction: undefined,
        predictedOutageSeconds: undefined,
      });
    } else deps.disks?.saveState(job.id, disk.index, ctx.leaseOwner, startOverDiskState(disk.state, left));
  }
  return failures;
}

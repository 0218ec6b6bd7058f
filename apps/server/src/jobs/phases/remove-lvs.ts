import { messageOf } from "../../errors.ts";
import type { HostShell, PhaseContext } from "../context.ts";
import { removeLvIfPresent } from "../lvm-ops.ts";
import type { PhaseDeps } from "./shared.ts";

export interface RemovalOptions {
  /** Names the step in the job log: "cancel" or "rollback". */
  purpose: string;
  /** Leave the target LVs (the operator asked to keep them, or the VM may run from them). */
  keepTargets: boolean;
  /** Said after "kept vg/lv on host" in the log, e.g. " as asked". */
  keptNote?: string;
  /** Bounds the target's removals (a rollback's target may be the host that just died). */
  targetSignal?: AbortSignal;
}

export interface RemovalResult {
  /** What failed, host by host in the order the hosts came: "removing vg/lv on host: why". */
  failures: string[];
  /** Target LVs still there afterwards (kept or not removed), as `vg/lv`. */
  targetsLeft: Set<string>;
}

/**
 * Removes the job's live snapshots (source) and target LVs, each host's in turn (LVM serialises them on the VG
 * anyway), the two hosts at once. Shared by cancel and rollback; a failure is recorded, never thrown.
 */
export async function removeJobLvs(
  ctx: PhaseContext,
  deps: Pick<PhaseDeps, "objects">,
  opts: RemovalOptions,
): Promise<RemovalResult> {
  const { job } = ctx;
  const targetsLeft = new Set<string>();
  const removals = new Map<HostShell, Array<(into: string[]) => Promise<void>>>();
  for (const o of deps.objects.live(job.id)) {
    if (o.kind === "target_lv" && opts.keepTargets) {
      ctx.log("info", `kept ${o.vg}/${o.lv} on ${ctx.target.name}${opts.keptNote ?? ""}`);
      deps.objects.markRemoved(o.id);
      targetsLeft.add(`${o.vg}/${o.lv}`);
      continue;
    }
    const onSource = o.hostId === job.sourceHostId && o.kind === "snapshot";
    const shell = onSource ? ctx.source : ctx.target;
    const signal = onSource || !opts.targetSignal ? ctx.signal : AbortSignal.any([ctx.signal, opts.targetSignal]);
    const what = `removing ${o.vg}/${o.lv} on ${shell.name}`;
    const remove = async (into: string[]) => {
      try {
        const removed = await removeLvIfPresent(shell, o.vg, o.lv, signal, {
          // A VM never runs from our snapshots; from the target LV only once a start there was tried.
          killOurs: o.kind === "snapshot" || job.phase !== "start_vm",
          onHeld: (holders) =>
            ctx.log(
              "warn",
              `${opts.purpose}: waiting for ${holders.map((h) => `${h.pid} (${h.args.slice(0, 60)})`).join(", ")} ` +
                `to let go of ${o.vg}/${o.lv} on ${shell.name}`,
            ),
        });
        deps.objects.markRemoved(o.id);
        if (removed) ctx.log("info", `removed ${o.vg}/${o.lv} on ${shell.name}`);
      } catch (err) {
        // An aborted bound says nothing useful ("This operation was aborted"): say the host did not answer.
        const why = opts.targetSignal?.aborted && !onSource ? `${shell.name} did not answer` : messageOf(err);
        into.push(`${what}: ${why}`);
        ctx.log("error", `${opts.purpose}: ${what} failed: ${why}`);
        if (o.kind === "target_lv") targetsLeft.add(`${o.vg}/${o.lv}`);
      }
    };
    removals.set(shell, [...(removals.get(shell) ?? []), remove]);
  }
  // What failed is told host by host, in the order the hosts came, however the two interleaved.
  const failed = await Promise.all(
    [...removals.values()].map(async (steps) => {
      const own: string[] = [];
      for (const step of steps) await step(own);
      return own;
    }),
  );
  return { failures: failed.flat(), targetsLeft };
}

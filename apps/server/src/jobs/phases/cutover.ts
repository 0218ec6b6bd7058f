import { ExtentMap } from "@blockferry/changes";
import { decommissionConfirmText, type OutagePrediction } from "@blockferry/contracts";
import { bytesWithExact } from "@blockferry/contracts/units";
import { blockdevFlushCommand, migratedAwayTag } from "@blockferry/lvm";
import { messageOf } from "../../errors.ts";
import type { PhaseContext, PhaseResult, PhaseTable } from "../context.ts";
import { checkCutoverGate, type GateResult } from "../cutover-gate.ts";
import { startChangeReader } from "../live-changes.ts";
import {
  classicSnapshotChanges,
  removeLvIfPresent,
  SnapshotInvalidError,
  tagMigratedAway,
  thinChanges,
} from "../lvm-ops.ts";
import { disksOfJob } from "../migration-disks.ts";
import { startFenced } from "../start-fence.ts";
import { type VmController, vmControllerFor } from "../vm/controller.ts";
import { fallBackToFullCopy } from "./copy.ts";
import { removeJobLvs } from "./remove-lvs.ts";
import { copyRequest, type PhaseDeps, sourceDevice, storedThin, targetDevice } from "./shared.ts";

async function finalChanges(ctx: PhaseContext) {
  const { job, state } = ctx;
  if (state.sourceThin) {
    const thin = storedThin(state);
    const d = await thinChanges(
      ctx.source,
      { vg: job.sourceVg, pool: thin.pool, fromThinId: thin.snapshotThinId, toThinId: thin.originThinId },
      ctx.signal,
    );
    // Discarded blocks read back as zeroes from the origin: copying them writes the zeroes.
    return { chunkBytes: d.chunkBytes, extents: d.data.union(d.discard) };
  }
  return classicSnapshotChanges(
    ctx.source,
    { vg: job.sourceVg, snap: String(state.snapshotLv), originBytes: state.sizeBytes ?? 0, originQuiet: true },
    ctx.signal,
  );
}

/** A prediction older than this is taken again right before the stop. */
const FRESH_PREDICTION_MS = 5000;

/**
 * The outage prediction right before the VM stops (compared with the measured outage afterwards): the latest
 * one if fresh, else one more reading of the snapshot, at the write rate the last prediction saw. Null when
 * nothing can tell it (no pass measured, or the reading failed: the cutover does not wait for a forecast).
 */
async function predictionBeforeStop(ctx: PhaseContext, deps: PhaseDeps): Promise<OutagePrediction | null> {
  const last = ctx.state.prediction;
  if (last && Date.now() - Date.parse(last.at) <= FRESH_PREDICTION_MS) return last;
  const reader = startChangeReader(ctx, deps, { repeat: false, fallbackRate: last?.writeBytesPerSecond ?? null });
  try {
    return (await reader.readNow())?.prediction ?? null;
  } finally {
    await reader.stop();
  }
}

/** How long an automatic cutover waits after the gate refused it before it looks again. */
export const CUTOVER_RETRY_MS = 15_000;

/**
 * The gate said no: the VM keeps running. An overflowed snapshot starts over from a new one; otherwise a manual
 * cutover waits for the operator to confirm again, and an automatic one tries again later.
 */
export function refuseCutover(
  ctx: PhaseContext,
  deps: PhaseDeps,
  gate: Extract<GateResult, { ok: false }>,
): PhaseResult {
  ctx.event("job.cutover_refused", { reason: gate.reason });
  ctx.log("warn", `cutover refused, the VM keeps running on the source: ${gate.reason}`);
  if (gate.snapshotInvalid) return fallBackToFullCopy(ctx, gate.snapshotInvalid);
  // An operator's confirmation is spent: they confirm again. An automatic policy looks again later by itself.
  ctx.saveJob({ cutoverRequested: false });
  if (ctx.job.cutover === "auto") ctx.save({ cutoverRetryAt: Date.now() + (deps.cutoverRetryMs ?? CUTOVER_RETRY_MS) });
  return { next: "wait_cutover" };
}

/**
 * Journal pass of a final delta. After a rollback the VM wrote again: ranges the earlier attempt confirmed may
 * have changed since, so each attempt is a pass of its own.
 */
const finalPass = (ctx: PhaseContext, base: string) => (ctx.state.rollbacks ? `${base}-r${ctx.state.rollbacks}` : base);

export function cutoverPhases(
  deps: PhaseDeps,
): Pick<PhaseTable, "stop_vm" | "final_delta" | "verify" | "start_vm" | "cleanup"> {
  const vm = (ctx: PhaseContext) => vmOf(ctx, deps);

  return {
    async stop_vm(ctx) {
      if (!ctx.state.vmStoppedAt) {
        const gate = await checkCutoverGate(ctx);
        if (!gate.ok) return refuseCutover(ctx, deps, gate);
        await defineOnTarget(ctx, deps);
        const predicted = await predictionBeforeStop(ctx, deps);
        // Stored before the stop command: if anything fails from here on, cancel knows to restart the VM.
        const at = Date.now();
        ctx.save({
          vmStoppedAt: at,
          cutoverRetryAt: undefined,
          cutoverWait: undefined,
          // The final delta plans the changed cells now.
          liveChangedCells: undefined,
          ...(predicted && { prediction: predicted, predictedOutageSeconds: predicted.outageSeconds }),
        });
        ctx.event("job.vm_stopped", { at });
      }
      await vm(ctx).stopSource(ctx.signal);
      await ctx.source.run(blockdevFlushCommand(sourceDevice(ctx)), { signal: ctx.signal });
      ctx.log("info", "VM stopped on the source; its volume is quiet");
      return { next: "final_delta" };
    },

    async final_delta(ctx) {
      let changes: { chunkBytes: number; extents: ExtentMap };
      try {
        changes = await finalChanges(ctx);
      } catch (err) {
        if (err instanceof SnapshotInvalidError) {
          // The change list is lost with the VM already stopped: the only safe delta is everything.
          ctx.log("error", `${err.message}; copying the whole volume during the outage`);
          await deps.mover.copyFull({
            ...copyRequest(ctx, finalPass(ctx, "final-full"), sourceDevice(ctx), ctx.signal),
            targetReadsZero: false,
            bytes: ctx.state.sizeBytes ?? 0,
          });
          ctx.save({ finalFull: true });
          return { next: "verify" };
        }
        throw err;
      }
      const bytes = changes.extents.byteCount(changes.chunkBytes);
      ctx.log("info", `final delta: ${bytesWithExact(bytes)} in ${changes.extents.runCount} runs`, { bytes });
      ctx.save({ finalChunkBytes: changes.chunkBytes, finalExtents: changes.extents.toJSON() });
      const pass = finalPass(ctx, "final");
      const copied = await deps.mover.copyExtents({
        ...copyRequest(ctx, pass, sourceDevice(ctx), ctx.signal),
        targetReadsZero: false,
        extents: changes.extents,
        chunkBytes: changes.chunkBytes,
        deviceBytes: ctx.state.sizeBytes ?? 0,
      });
      ctx.event("job.copied", { pass, ...copied });
      return { next: "verify" };
    },

    /**
     * An independent check on top of the transfer's per-range verification: the final delta re-hashed on
     * both hosts (or, with verifyFull, both whole devices).
     */
    async verify(ctx) {
      const full = Boolean(ctx.job.options.verifyFull || ctx.state.finalFull);
      const r = await deps.mover.verify({
        source: { hostId: ctx.job.sourceHostId, device: sourceDevice(ctx) },
        target: { hostId: ctx.job.targetHostId, device: targetDevice(ctx) },
        deviceBytes: ctx.state.sizeBytes ?? 0,
        extents: full
          ? undefined
          : {
              map: ExtentMap.fromJSON(ctx.state.finalExtents ?? []),
              chunkBytes: ctx.state.finalChunkBytes ?? 4096,
            },
        signal: ctx.signal,
      });
      const [first] = r.mismatched;
      if (first)
        throw Object.assign(
          new Error(
            `verification failed: ${r.mismatched.length} of ${r.rangesChecked} ranges differ, the first at byte ${first[0]}`,
          ),
          { code: "VERIFY_FAILED" },
        );
      ctx.log("info", `verified ${r.rangesChecked} ranges (${full ? "whole volume" : "final delta"}) on both hosts`);
      ctx.event("job.verified", { ranges: r.rangesChecked, full });
      return { next: "start_vm" };
    },

    async start_vm(ctx) {
      const control = vm(ctx);
      await startFenced(ctx, "target", control, () => control.startTarget(ctx.signal), ctx.signal);
      const startedAt = Date.now();
      const outageMs = startedAt - (ctx.state.vmStoppedAt ?? startedAt);
      ctx.save({ vmStartedAt: startedAt });
      ctx.saveJob({ outageMs });
      const predicted = ctx.state.predictedOutageSeconds;
      ctx.event("job.outage", { outageMs, ...(predicted !== undefined && { predictedOutageSeconds: predicted }) });
      const { vm: vmControl } = ctx.job;
      if (vmControl.controller === "libvirt" && vmControl.startTarget === false)
        ctx.log("info", `VM defined on the target and left shut off as asked; ready ${outageMs} ms after the stop`);
      else ctx.log("info", `VM started on the target; outage ${outageMs} ms`);
      return { next: "cleanup" };
    },

    async cleanup(ctx) {
      for (const o of deps.objects.live(ctx.job.id)) {
        if (o.kind !== "snapshot") continue;
        await removeLvIfPresent(ctx.source, o.vg, o.lv, ctx.signal, { killOurs: true });
        deps.objects.markRemoved(o.id);
      }
      await markSourceMigratedAway(ctx, deps);
      return { next: "done" };
    },
  };
}

/**
 * The VM runs on the target: the kept source LV is tagged as the migrated-away copy, so the inventory says so and
 * decommission can tell it from a live disk. A failed tag costs only that, never the migration: a warning says how
 * to add it by hand.
 */
async function markSourceMigratedAway(ctx: PhaseContext, deps: PhaseDeps): Promise<void> {
  const { job } = ctx;
  const lv = `${job.sourceVg}/${job.sourceLv}`;
  // Decommission removes every disk's source LV on one confirm, which names them all. From the rows, not
  // disksOfJob: in a disk's context the job's columns hold that disk's names.
  const rows = deps.disks?.list(job.id) ?? [];
  const sources = rows.length
    ? rows.map((r) => ({ vg: r.sourceVg, lv: r.sourceLv }))
    : [{ vg: job.sourceVg, lv: job.sourceLv }];
  const tag = migratedAwayTag(job.id);
  try {
    await tagMigratedAway(ctx.source, { jobId: job.id, vg: job.sourceVg, lv: job.sourceLv }, ctx.signal);
  } catch (err) {
    ctx.log(
      "warn",
      `snapshots dropped; ${lv} is kept on ${ctx.source.name} but could not be tagged ${tag} ` +
        `(${(err as Error).message}): until \`lvchange --addtag ${tag} ${lv}\` is run there, it is not shown as ` +
        "migrated away and cannot be removed from Blockferry",
    );
    return;
  }
  ctx.log(
    "info",
    `snapshots dropped; ${lv} is kept on ${ctx.source.name}, tagged ${tag}, until an operator removes it ` +
      `(Remove source ${sources.length > 1 ? "LVs" : "LV"} on this job, or ` +
      `\`blockferry decommission ${job.id} --confirm ${decommissionConfirmText(sources)}\`)`,
  );
}

/**
 * Cancel, before the VM started on the target: restart the source VM if we stopped it, drop our snapshots, and
 * drop the target LV we created unless the operator asked to keep it (removeTargetOnCancel: false). Every step
 * is tried even when an earlier one fails (a VM that will not restart must not leave snapshots filling up behind
 * it); what failed is reported together, and cancelling again retries only that.
 */
export function createCompensation(deps: PhaseDeps) {
  return async function compensate(ctx: PhaseContext): Promise<void> {
    const { job, state } = ctx;
    const failures: string[] = [];
    const attempt = async (what: string, step: () => Promise<void>) => {
      try {
        await step();
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`);
        ctx.log("error", `cancel: ${what} failed: ${(err as Error).message}`);
      }
    };
    if (state.vmStoppedAt && !state.vmStartedAt) {
      const vmControl = job.vm;
      await attempt("restarting the VM on the source", async () => {
        // Refused when a start on the target was decided or the VM runs there: never on both.
        const control = vmOf(ctx, deps);
        await startFenced(ctx, "source", control, () => control.restartSource(ctx.signal), ctx.signal);
        if (vmControl.controller === "commands" && !vmControl.startSource)
          ctx.log("warn", "no start command for the source was given: the VM stays stopped, start it yourself");
        else if (vmControl.controller !== "none") ctx.log("info", "VM restarted on the source");
      });
    }
    await attempt("undefining the VM on the target", () => undefineOnTarget(ctx, vmOf(ctx, deps)));
    // Never the target LVs once the VM may run from them; otherwise only with the operator's consent.
    const asked = job.options.removeTargetOnCancel === false;
    const removed = await removeJobLvs(ctx, deps, {
      purpose: "cancel",
      keepTargets: asked || Boolean(state.vmStartedAt),
      keptNote: asked ? " as asked" : "",
    });
    failures.push(...removed.failures);
    if (failures.length) throw new Error(failures.join("; "));
  };
}

/**
 * Rollback after a failure during the outage (the executor stores the fencing decision first): the VM starts again
 * on the source, from the LV nothing wrote to since it stopped.
 */
export async function restartOnSource(ctx: PhaseContext, deps: Pick<PhaseDeps, "disks" | "logger">): Promise<void> {
  const vmControl = ctx.job.vm;
  if (vmControl.controller === "commands" && !vmControl.startSource)
    throw new Error("no start command for the source was given: start the VM on the source yourself");
  const control = vmOf(ctx, deps);
  await startFenced(ctx, "source", control, () => control.restartSource(ctx.signal), ctx.signal);
  if (vmControl.controller !== "none") ctx.log("info", "VM running again on the source");
  // The VM runs: a definition left on the target only costs a warning (a retry defines it again anyway).
  try {
    await undefineOnTarget(ctx, control);
  } catch (err) {
    ctx.log("warn", `the VM's definition on ${ctx.target.name} could not be removed: ${messageOf(err)}`);
  }
}

/** The controller for the job's VM and all its disks (disk 0 first). */
function vmOf(ctx: PhaseContext, deps: Pick<PhaseDeps, "disks" | "logger">) {
  const disks = disksOfJob(ctx.job, deps.disks?.list(ctx.job.id) ?? []);
  return vmControllerFor(ctx.job.vm, ctx.source, ctx.target, disks, deps.logger);
}

/**
 * libvirt defines the VM on the target before stopping it on the source: a definition the target refuses (its
 * libvirt, a missing emulator) then fails the cutover with the VM still running. Recorded first, for cancel.
 */
async function defineOnTarget(ctx: PhaseContext, deps: PhaseDeps): Promise<void> {
  const control = vmOf(ctx, deps);
  if (!control.definesOnTarget) return;
  ctx.save({ targetDomainDefined: true });
  await control.defineTarget(ctx.signal);
  ctx.log("info", `VM defined on ${ctx.target.name} (shut off), every disk pointing at its target LV`);
}

/** Removes the definition this job put on the target, unless the VM may run from it (a start there was decided). */
async function undefineOnTarget(ctx: PhaseContext, control: VmController): Promise<void> {
  if (!ctx.state.targetDomainDefined || ctx.state.startDecision?.host === "target" || ctx.state.vmStartedAt) return;
  if (await control.undefineTarget(ctx.signal)) ctx.log("info", `VM definition removed from ${ctx.target.name}`);
  ctx.save({ targetDomainDefined: undefined });
}

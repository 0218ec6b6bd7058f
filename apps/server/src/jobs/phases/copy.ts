import type { CutoverWait } from "@blockferry/contracts";
import { bytesWithExact } from "@blockferry/contracts/units";
import type { SnapshotStatus } from "@blockferry/lvm";
import { messageOf } from "../../errors.ts";
import type { PhaseContext, PhaseResult, PhaseTable } from "../context.ts";
import { type CutoverDecision, decideCutover } from "../cutover-policy.ts";
import { CHANGE_READ_MS, type ChangeReader, startChangeReader } from "../live-changes.ts";
import {
  classicSnapshotChanges,
  devicePath,
  extendLv,
  findLv,
  findVg,
  SnapshotInvalidError,
  snapshotStatus,
  thinChanges,
} from "../lvm-ops.ts";
import { explainTargetFailure } from "../target-failure.ts";
import { dropStaleSnapshots, takeSnapshot } from "./prepare.ts";
import {
  abortableSleep,
  copyRequest,
  loadChanges,
  options,
  type PhaseDeps,
  snapshotName,
  storeChanges,
  storedThin,
  withTiming,
} from "./shared.ts";

/** Above this fill level a classic snapshot is grown (when its VG has room) before it can overflow. */
const EXTEND_AT_PERCENT = 70;

/**
 * Watches the classic snapshot while the VM writes: grows it before it overflows, and aborts the copy
 * the moment it turns invalid (its change list can then never be trusted). Stopping it (or the job's signal)
 * also stops a check in flight.
 */
export function watchSnapshot(
  ctx: PhaseContext,
  deps: PhaseDeps,
  onInvalid: (err: Error) => void,
  onStatus?: (snapshot: string, status: SnapshotStatus) => void,
): () => void {
  const { state, job } = ctx;
  if (state.sourceThin || !state.snapshotLv) return () => undefined;
  const snap = state.snapshotLv;
  const stopped = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stopped.signal]);
  let busy = false;
  let lastPercent = -1;
  const tick = async () => {
    if (busy || signal.aborted) return;
    busy = true;
    try {
      const status = await snapshotStatus(ctx.source, job.sourceVg, snap, signal);
      onStatus?.(snap, status);
      if (status.state !== "valid") return onInvalid(new SnapshotInvalidError(`${job.sourceVg}/${snap}`, status.state));
      // Stored events are forever: record the fill level when it moved by a whole percent, not every tick.
      if (Math.floor(status.fillPercent) !== lastPercent) {
        lastPercent = Math.floor(status.fillPercent);
        ctx.event("job.snapshot", { snapshot: snap, fillPercent: Math.round(status.fillPercent * 10) / 10 });
      }
      if (status.fillPercent >= EXTEND_AT_PERCENT) {
        const [vg, lv] = await Promise.all([
          findVg(ctx.source, job.sourceVg, signal),
          findLv(ctx.source, job.sourceVg, snap, signal),
        ]);
        const extent = vg?.extentSizeBytes ?? 4 * 1024 * 1024;
        const lvSize = lv?.sizeBytes ?? 0;
        const grow = Math.max(extent, Math.ceil(lvSize / 2 / extent) * extent);
        if (vg && lv && vg.freeBytes >= grow) {
          await extendLv(ctx.source, job.sourceVg, snap, lvSize + grow, signal);
          ctx.log(
            "warn",
            `snapshot ${snap} was ${status.fillPercent.toFixed(1)}% full: grew it by ${bytesWithExact(grow)}`,
          );
        } else {
          ctx.log(
            "warn",
            `snapshot ${snap} is ${status.fillPercent.toFixed(1)}% full and ${job.sourceVg} has no room to grow it`,
          );
        }
      }
    } catch (err) {
      if (!signal.aborted) ctx.log("warn", `snapshot check failed: ${messageOf(err)}`);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), deps.snapshotWatchMs ?? 2000);
  return () => {
    clearInterval(timer);
    stopped.abort();
  };
}

/**
 * Runs `copy` under a signal that also fires when the snapshot turns invalid, reading the live changes meanwhile
 * (classic snapshots only: a thin reading's metadata snapshot must not meet the catch-up's own).
 */
async function withSnapshotWatch<T>(
  ctx: PhaseContext,
  deps: PhaseDeps,
  copy: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const reader: ChangeReader | null = ctx.state.sourceThin ? null : startChangeReader(ctx, deps);
  try {
    return await watchedCopy(ctx, deps, copy, reader);
  } finally {
    await reader?.stop();
  }
}

async function watchedCopy<T>(
  ctx: PhaseContext,
  deps: PhaseDeps,
  copy: (signal: AbortSignal) => Promise<T>,
  reader: ChangeReader | null,
): Promise<T> {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(ctx.signal.reason);
  ctx.signal.addEventListener("abort", onOuterAbort, { once: true });
  let invalid: Error | null = null;
  const stop = watchSnapshot(
    ctx,
    deps,
    (err) => {
      invalid = err;
      controller.abort(err);
    },
    reader?.noteStatus,
  );
  let result: T;
  try {
    result = await copy(controller.signal);
  } catch (err) {
    if (invalid) throw invalid;
    // Reads of an overflowed snapshot fail with EIO, often before the watcher's next look: ask now.
    const snap = ctx.state.snapshotLv;
    if (!ctx.state.sourceThin && snap && !ctx.signal.aborted) {
      const status = await snapshotStatus(ctx.source, ctx.job.sourceVg, snap, ctx.signal).catch(() => null);
      if (status && status.state !== "valid")
        throw new SnapshotInvalidError(`${ctx.job.sourceVg}/${snap}`, status.state);
    }
    throw err;
  } finally {
    stop();
    ctx.signal.removeEventListener("abort", onOuterAbort);
  }
  if (invalid) throw invalid;
  return result;
}

/** A snapshot that overflowed: start over from a new snapshot and a full copy, and say so. */
export function fallBackToFullCopy(ctx: PhaseContext, err: Error): PhaseResult {
  ctx.log("error", `${err.message}; falling back to a new snapshot and a full copy`);
  ctx.save({
    // Forgetting the current snapshot lets the next take drop it first: an overflowed one is useless and its
    // space is what the new one needs.
    snapshotLv: undefined,
    snapshotGen: (ctx.state.snapshotGen ?? 1) + 1,
    fullCopyDone: false,
    catchUpDone: 0,
    extraPasses: 0,
    liveChangedCells: undefined,
    // The overflowed pass's rotation and change list belong to the old snapshot: the next catch_up must start a
    // new generation from the new one, not resume them.
    rotation: undefined,
    pendingChanges: undefined,
    fullCopyFallbacks: (ctx.state.fullCopyFallbacks ?? 0) + 1,
  });
  return { next: "snapshot" };
}

export function copyPhases(deps: PhaseDeps): Pick<PhaseTable, "full_copy" | "catch_up" | "wait_cutover"> {
  return {
    async full_copy(ctx) {
      const { state, job } = ctx;
      const snap = state.snapshotLv ?? snapshotName(job.id, state.snapshotGen ?? 1, ctx.disk);
      const pass = `full-g${state.snapshotGen ?? 1}`;
      const began = Date.now();
      try {
        const copied = await withSnapshotWatch(ctx, deps, (signal) =>
          deps.mover.copyFull({
            ...copyRequest(ctx, pass, devicePath(job.sourceVg, snap), signal),
            targetReadsZero: Boolean(state.targetReadsZero),
            bytes: state.sizeBytes ?? 0,
          }),
        );
        ctx.event("job.copied", { pass, ...copied });
        const timing = { pass, bytes: copied.bytesRead, runs: 1, copyMs: Date.now() - began };
        ctx.save({ passTimings: withTiming(ctx.state, timing) });
      } catch (err) {
        if (err instanceof SnapshotInvalidError) return fallBackToFullCopy(ctx, err);
        throw await explainTargetFailure(ctx, err, ctx.signal);
      }
      ctx.save({ fullCopyDone: true });
      return { next: "catch_up" };
    },

    /**
     * Optional passes while the VM runs: take snapshot g+1, send what snapshot g recorded (read from g+1,
     * a stable image), drop g. Creating g+1 suspends the origin, which commits every exception g holds for
     * writes before that moment; later writes are g+1's to record. So the final outage covers one pass.
     */
    async catch_up(ctx) {
      // The operator's passes, and those an automatic cutover policy added to converge.
      const passes = (options(ctx).catchUpPasses ?? 0) + (ctx.state.extraPasses ?? 0);
      const { job } = ctx;
      while ((ctx.state.catchUpDone ?? 0) < passes) {
        const done = ctx.state.catchUpDone ?? 0;
        // After a fallback the passes count again from 1: a name of their own, for the journal plans them anew.
        const fallbacks = ctx.state.fullCopyFallbacks ?? 0;
        const pass = `catchup-${done + 1}${fallbacks ? `-f${fallbacks}` : ""}`;
        // The rotation is stored before anything happens, so a re-run after a crash resumes the same one.
        let rotation = ctx.state.rotation;
        if (rotation?.pass !== pass) {
          const gen = ctx.state.snapshotGen ?? 1;
          rotation = {
            pass,
            from: snapshotName(job.id, gen, ctx.disk),
            fromThinId: ctx.state.snapshotThinId ?? null,
            toGen: gen + 1,
          };
          ctx.save({ rotation, snapshotGen: rotation.toGen });
        }
        const from = rotation.from;
        let stored = ctx.state.pendingChanges;
        // Until its changes are stored, `from` is still to be read: a re-run after a crash (when the state already
        // names generation g+1) adopts g+1 and must not drop g.
        const next = await takeSnapshot(ctx, deps, stored?.pass === pass ? [] : [from]);
        let readMs: number | undefined;
        try {
          if (stored?.pass !== pass) {
            const began = Date.now();
            const found = ctx.state.sourceThin
              ? await thinChanges(
                  ctx.source,
                  {
                    vg: job.sourceVg,
                    pool: storedThin(ctx.state).pool,
                    fromThinId: rotation.fromThinId ?? 0,
                    toThinId: storedThin(ctx.state).snapshotThinId,
                  },
                  ctx.signal,
                ).then((d) => ({ chunkBytes: d.chunkBytes, extents: d.data.union(d.discard) }))
              : await classicSnapshotChanges(
                  ctx.source,
                  { vg: job.sourceVg, snap: from, originBytes: ctx.state.sizeBytes ?? 0, originQuiet: false },
                  ctx.signal,
                );
            stored = storeChanges(pass, found.chunkBytes, found.extents);
            readMs = Date.now() - began;
            // The pass plans these ranges now: the journal shows them as changed from here on.
            ctx.save({ pendingChanges: stored, liveChangedCells: undefined });
          }
          const changes = loadChanges(stored);
          ctx.log(
            "info",
            `catch-up ${done + 1}/${passes}: ${changes.extents.byteCount(changes.chunkBytes)} bytes changed`,
          );
          const began = Date.now();
          const copied = await withSnapshotWatch(ctx, deps, (signal) =>
            deps.mover.copyExtents({
              ...copyRequest(ctx, pass, devicePath(job.sourceVg, next), signal),
              targetReadsZero: false,
              extents: changes.extents,
              chunkBytes: changes.chunkBytes,
              deviceBytes: ctx.state.sizeBytes ?? 0,
            }),
          );
          ctx.event("job.copied", { pass, ...copied });
          const timing = {
            pass,
            bytes: copied.bytesRead,
            runs: changes.extents.runCount,
            copyMs: Date.now() - began,
            ...(readMs !== undefined && { readMs }),
          };
          ctx.save({ passTimings: withTiming(ctx.state, timing) });
        } catch (err) {
          if (err instanceof SnapshotInvalidError) return fallBackToFullCopy(ctx, err);
          throw err;
        }
        await dropStaleSnapshots(ctx, deps, [next]);
        ctx.save({ catchUpDone: done + 1 });
      }
      return { next: "wait_cutover" };
    },

    /**
     * Waits for the cutover while the VM runs, reading the snapshot's changes: a manual cutover for the operator's
     * confirmation; an automatic one by its policy (window, outage budget), running more catch-up passes to
     * converge. A forced cutover (the operator's) goes on at any time.
     */
    async wait_cutover(ctx) {
      const decide = (reading: ReturnType<ChangeReader["latest"]>) => {
        const job = ctx.reload();
        // Only a reading of the current snapshot decides: one taken before a rotation is old news.
        const fresh = reading && reading.snapshot === ctx.state.snapshotLv ? reading : null;
        return decideCutover({
          policy: job.cutoverPolicy ?? { mode: job.cutover },
          now: Date.now(),
          forced: job.cutoverRequested,
          retryAt: ctx.state.cutoverRetryAt ?? null,
          prediction: fresh?.prediction ?? null,
          passesRun: ctx.state.extraPasses ?? 0,
          outageAfterOnePass: fresh?.afterOnePass ?? null,
          nextLookMs: deps.changeReadMs ?? CHANGE_READ_MS,
        });
      };
      // An automatic cutover with nothing to wait for goes on at once, as it always has.
      if (decide(null).action === "cutover") {
        showWait(ctx, null);
        return { next: "stop_vm" };
      }
      ctx.markWaiting(true);
      if (ctx.job.cutover === "manual") ctx.log("info", "full copy done: waiting for the operator to confirm cutover");
      const reader = startChangeReader(ctx, deps);
      let invalid: Error | null = null;
      const stop = watchSnapshot(
        ctx,
        deps,
        (err) => {
          invalid = err;
        },
        reader.noteStatus,
      );
      try {
        const overflowed = (): Overflow | null => (invalid ? { disk: ctx, err: invalid } : null);
        const result = await pollCutover(ctx, deps, () => decide(reader.latest()), overflowed);
        if (result) return result;
      } finally {
        stop();
        await reader.stop();
      }
      ctx.markWaiting(false);
      showWait(ctx, null);
      return { next: "stop_vm" };
    },
  };
}

/** A disk whose snapshot overflowed while waiting for the cutover, and why. */
export type Overflow = { disk: PhaseContext; err: Error };

/**
 * The wait_cutover loop, for one disk or a set: twice a second the cutover policy decides. Returns the next phase
 * when a snapshot overflowed (that disk falls back to a full copy) or the policy asks for a pass; null once it
 * cuts over (the caller stops its readers first, then goes on to stop_vm).
 */
export async function pollCutover(
  ctx: PhaseContext,
  deps: PhaseDeps,
  decide: () => CutoverDecision,
  overflowed: () => Overflow | null,
): Promise<PhaseResult | null> {
  for (;;) {
    const overflow = overflowed();
    if (overflow) {
      ctx.markWaiting(false);
      showWait(ctx, null);
      return fallBackToFullCopy(overflow.disk, overflow.err);
    }
    const d = decide();
    if (d.action === "cutover") return null;
    showWait(ctx, d.wait);
    if (d.action === "pass") {
      ctx.markWaiting(false);
      ctx.save({ extraPasses: (ctx.state.extraPasses ?? 0) + 1 });
      return { next: "catch_up" };
    }
    await (deps.sleep ?? abortableSleep)(500, ctx.signal);
  }
}

/** Shows why an automatic cutover waits (the view); a new reason is also stored as an event and logged. */
export function showWait(ctx: PhaseContext, wait: CutoverWait | null): void {
  const before = ctx.state.cutoverWait;
  if (JSON.stringify(before ?? null) === JSON.stringify(wait)) return;
  ctx.save({ cutoverWait: wait ?? undefined });
  if (wait && wait.reason !== before?.reason) {
    ctx.event("job.cutover_waiting", wait);
    ctx.log("info", `automatic cutover waits: ${wait.message}`);
  }
}

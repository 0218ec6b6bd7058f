import type { EventData, MigrationOptions } from "@blockferry/contracts";
import type { JobState, Phase } from "@blockferry/contracts/vocabulary";
import { type JobRow, type JobsRepo, LeaseLostError as LeaseLost } from "../db/repositories/jobs.ts";
import { codeOf, messageOf } from "../errors.ts";
import type { EventHub } from "../events/hub.ts";
import { hostNamedMessage } from "../hosts/named-failure.ts";
import { type HostShell, isPastNoReturn, type PhaseContext, type PhaseState, type PhaseTable } from "./context.ts";
import { guardTarget } from "./outage-guard.ts";
import { JobInterrupted, type Lease } from "./runner.ts";
import { decideStart, mayRollBack } from "./start-fence.ts";

/** Outage phases run under the target guard: a target that stops answering there is a reason to roll back. */
const GUARDED_PHASES = ["final_delta", "verify"];
const DEFAULT_ROLLBACK_AFTER_SECONDS = 120;

export interface ExecutorDeps {
  jobs: Pick<JobsRepo, "get" | "updateOwned">;
  hub: Pick<EventHub, "append" | "progress" | "flushProgress">;
  /** Partial: a test may hand only the phases it drives; a missing one fails the job. */
  phases: Partial<PhaseTable>;
  /** Undoes what the job did (snapshots, target LV, stopped VM); runs on cancel. */
  compensate(ctx: PhaseContext): Promise<void>;
  /**
   * Starts the VM again on the source after a failure during the outage (the fencing decision is stored first).
   * Without it such a failure leaves the job failed with the VM stopped.
   */
  rollBack?(ctx: PhaseContext): Promise<void>;
  /**
   * After a rollback: removes the job's snapshots and target LVs and sets its disks back to the start, returning
   * what could not be removed. Without it a rolled-back job keeps them and waits for the cutover again.
   */
  discardCopies?(ctx: PhaseContext, cause: unknown): Promise<string[]>;
  shellFor(hostId: number): Promise<HostShell>;
}

/**
 * How long the target may stay silent during the outage before the job rolls back. Half the operator's bound:
 * the other half is for stopping the phase and starting the VM on the source.
 */
const rollbackAfterMs = (job: JobRow) =>
  (((job.options as { rollbackAfterSeconds?: number }).rollbackAfterSeconds ?? DEFAULT_ROLLBACK_AFTER_SECONDS) * 1000) /
  2;

/**
 * Carries one claimed job through its phases. Each phase reads only the job row and its stored phase state,
 * so running this again after a crash continues where the stored state says.
 */
export function createJobExecutor(d: ExecutorDeps) {
  return async function executeJob(claimed: JobRow, lease: Lease): Promise<void> {
    let job = claimed;
    const write = (values: Parameters<typeof d.jobs.updateOwned>[2]) => {
      if (!d.jobs.updateOwned(job.id, lease.owner, values)) throw new LeaseLost(job.id);
    };
    const setState = (state: JobState, extra: Parameters<typeof d.jobs.updateOwned>[2] = {}) => {
      write({ state, ...extra });
      d.hub.append(job.id, "job.state", { state, phase: extra.phase ?? job.phase });
    };

    const [source, target] = await Promise.all([d.shellFor(job.sourceHostId), d.shellFor(job.targetHostId)]);
    // What the job records and the dashboard shows: hosts by their names, not by the addresses the SSH layer knows.
    const errorInfo = (err: unknown) => ({
      code: codeOf(err),
      message: hostNamedMessage(messageOf(err), [source, target]),
    });
    const state: PhaseState = { ...job.phaseState };
    let phase = job.phase;
    // The lease's signal, joined during the outage by the target guard's.
    let phaseSignal = lease.signal;
    let guard: ReturnType<typeof guardTarget> | null = null;
    let lastRangesDone = 0;
    const ctx: PhaseContext = {
      get job() {
        return job;
      },
      state,
      get signal() {
        return phaseSignal;
      },
      leaseOwner: lease.owner,
      source,
      target,
      save(patch) {
        Object.assign(state, patch);
        write({ phaseState: state });
      },
      saveJob(values) {
        write(values);
      },
      log(level, message, details) {
        d.hub.append(job.id, "job.log", { level, message, phase, ...details });
      },
      event(type, data) {
        // TypeScript cannot see that Omit<EventData<T>, "phase"> plus the phase is EventData<T> for a generic T.
        d.hub.append(job.id, type, { phase, ...data } as EventData<typeof type>);
      },
      markWaiting(waiting) {
        const want = waiting ? "waiting_cutover" : "running";
        if (job.state !== want) {
          setState(want);
          job = { ...job, state: want };
        }
      },
      watchOptions(listener) {
        return lease.watchOptions?.((options) => listener(options as MigrationOptions)) ?? (() => {});
      },
      progress(p) {
        // Only data the target confirmed counts as its answer: bytes streamed from the source (a retry re-reading
        // after a lost connection, say) say nothing about a target that may be dead.
        if (p.rangesDone > lastRangesDone) guard?.heard();
        lastRangesDone = p.rangesDone;
        d.hub.progress({ ...p, jobId: job.id, phase });
      },
      reload() {
        const row = d.jobs.get(job.id);
        if (!row) throw new LeaseLost(job.id);
        job = row;
        return row;
      },
    };

    /**
     * Stores the next phase. Passing the point of no return is conditional on no cancel request, which the service
     * in turn accepts only before it: false when a cancel got there first.
     */
    const enterPhase = (next: Phase): boolean => {
      const gate = isPastNoReturn(next) && !isPastNoReturn(phase);
      const values = { phase: next, phaseState: state };
      if (d.jobs.updateOwned(job.id, lease.owner, values, { unlessCancelRequested: gate })) return true;
      if (!gate || d.jobs.get(job.id)?.leaseOwner !== lease.owner) throw new LeaseLost(job.id);
      return false;
    };

    const cancel = async () => {
      setState("cancelling");
      try {
        await d.compensate({ ...ctx, signal: new AbortController().signal });
      } catch (err) {
        // Left failed (not cancelling) so the runner does not loop on it; cancelling again retries the clean-up.
        const info = errorInfo(err);
        ctx.log("error", `clean-up after cancel failed: ${info.message}`);
        setState("failed", { error: { code: "CANCEL_CLEANUP_FAILED", message: info.message, phase } });
        return;
      }
      setState("cancelled", { finishedAt: new Date().toISOString() });
    };

    /**
     * The target failed during the outage: the VM runs again on the source from its untouched LV, our snapshots
     * and target LVs go (discardCopies), and the job ends rolled_back at prechecks: a retry starts over.
     */
    const rollBack = async (cause: unknown) => {
      const why = errorInfo(cause).message;
      ctx.log("error", `${phase} failed during the outage: ${why}; starting the VM again on the source`);
      try {
        decideStart(ctx, "source");
        await d.rollBack?.({ ...ctx, signal: new AbortController().signal });
      } catch (err) {
        const info = errorInfo(err);
        ctx.log("error", `rollback failed, the VM may still be stopped: ${info.message}`);
        // The operator now starts the VM on the source (or not) by hand: a retry must not finish this rollback but
        // begin the cutover again at stop_vm, which stops the VM wherever it runs on the source before anything
        // moves, and copies what it wrote meanwhile as a new final-delta pass.
        ctx.save({ startDecision: undefined, rollbacks: (state.rollbacks ?? 0) + 1 });
        setState("failed", {
          phase: "stop_vm",
          phaseState: state,
          error: { code: "ROLLBACK_FAILED", message: `${why}; rollback: ${info.message}`, phase },
        });
        return;
      }
      const restartedAt = Date.now();
      const stoppedAt = state.vmStoppedAt ?? restartedAt;
      const outageMs = restartedAt - stoppedAt;
      const left = await discardAfterRollback(cause);
      ctx.save({
        vmStoppedAt: undefined,
        startDecision: undefined,
        rollbacks: (state.rollbacks ?? 0) + 1,
        lastOutage: { stoppedAt, restartedAt },
      });
      ctx.event("job.rolled_back", { reason: why, outageMs });
      ctx.log(
        "warn",
        `VM running again on the source after an outage of ${outageMs} ms; retry once the target is back` +
          (!d.discardCopies
            ? ""
            : left.length
              ? ` (starts over; not removed: ${left.join("; ")}: a retry reuses a target LV left, cancel removes it)`
              : " (starts over: snapshots and target LVs removed)"),
      );
      setState("rolled_back", {
        phase: d.discardCopies ? "prechecks" : "wait_cutover",
        phaseState: state,
        cutoverRequested: false,
        error: { code: "ROLLED_BACK", message: why, phase },
        finishedAt: new Date().toISOString(),
      });
    };

    /** The rollback's clean-up: what it could not remove (a lost lease still ends the run). */
    const discardAfterRollback = async (cause: unknown): Promise<string[]> => {
      if (!d.discardCopies) return [];
      try {
        return await d.discardCopies({ ...ctx, signal: new AbortController().signal }, cause);
      } catch (err) {
        if (err instanceof LeaseLost) throw err;
        return [errorInfo(err).message];
      }
    };

    try {
      if (job.state === "cancelling" || (job.cancelRequested && lease.signal.aborted)) return await cancel();
      // A crash interrupted a rollback: the decision stands (fencing), so finish it rather than go on.
      if (state.startDecision?.host === "source" && state.vmStoppedAt && d.rollBack)
        return await rollBack(new Error("the server stopped during a rollback"));
      if (job.state === "queued") setState("running", { startedAt: job.startedAt ?? new Date().toISOString() });
      while (phase !== "done") {
        const run = d.phases[phase];
        if (!run) throw new Error(`unknown phase ${phase}`);
        d.hub.append(job.id, "job.phase", { phase });
        guard =
          d.rollBack && GUARDED_PHASES.includes(phase) && mayRollBack(phase, state)
            ? guardTarget(ctx.target, rollbackAfterMs(job), lease.signal)
            : null;
        let next: Phase;
        try {
          if (guard) phaseSignal = AbortSignal.any([lease.signal, guard.signal]);
          ({ next } = await run(ctx));
          guard?.signal.throwIfAborted();
        } catch (err) {
          // The guard's reason says why the phase's commands were stopped.
          throw guard?.signal.aborted && !lease.signal.aborted ? guard.signal.reason : err;
        } finally {
          guard?.stop();
          guard = null;
          phaseSignal = lease.signal;
        }
        lease.signal.throwIfAborted();
        d.hub.flushProgress(job.id);
        // A cancel that won the race against passing the point of no return (its interrupt not here yet) rolls back.
        if (!enterPhase(next)) return await cancel();
        phase = next;
        job = { ...job, phase: next };
      }
      setState("succeeded", { finishedAt: new Date().toISOString() });
    } catch (err) {
      const reason = lease.signal.reason instanceof JobInterrupted ? lease.signal.reason.reason : null;
      if (err instanceof LeaseLost || reason === "lease_lost" || reason === "shutdown") return;
      if (reason === "cancel") return await cancel();
      if (d.rollBack && mayRollBack(phase, state)) return await rollBack(err);
      const info = errorInfo(err);
      ctx.log("error", `${phase} failed: ${info.message}`);
      setState("failed", { error: { ...info, phase } });
    }
  };
}

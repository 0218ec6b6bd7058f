import type { EventData, MigrationOptions } from "@blockferry/contracts";
import type { JobState, Phase } from "@blockferry/contracts/vocabulary";
import { type JobRow, type JobsRepo, LeaseLostError as LeaseLost } from "../db/repositories/jobs.ts";
import { codeOf, messageOf } from "../errors.ts";
import type { EventHub } from "../events/hub.ts";
import { type HostShell, isPastNoReturn, type PhaseContext, type PhaseState, type PhaseTable } from "./context.ts";
import { JobInterrupted, type Lease } from "./runner.ts";

export interface ExecutorDeps {
  jobs: Pick<JobsRepo, "get" | "updateOwned">;
  hub: Pick<EventHub, "append" | "progress" | "flushProgress">;
  /** Partial: a test may hand only the phases it drives; a missing one fails the job. */
  phases: Partial<PhaseTable>;
  /** Undoes what the job did (snapshots, target LV, stopped VM); runs on cancel. */
  compensate(ctx: PhaseContext): Promise<void>;
  shellFor(hostId: number): Promise<HostShell>;
}

const errorInfo = (err: unknown) => ({ code: codeOf(err), message: messageOf(err) });

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
    const state: PhaseState = { ...job.phaseState };
    let phase = job.phase;
    const ctx: PhaseContext = {
      get job() {
        return job;
      },
      state,
      signal: lease.signal,
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

    try {
      if (job.state === "cancelling" || (job.cancelRequested && lease.signal.aborted)) return await cancel();
      if (job.state === "queued") setState("running", { startedAt: job.startedAt ?? new Date().toISOString() });
      while (phase !== "done") {
        const run = d.phases[phase];
        if (!run) throw new Error(`unknown phase ${phase}`);
        d.hub.append(job.id, "job.phase", { phase });
        const { next } = await run(ctx);
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
      const info = errorInfo(err);
      ctx.log("error", `${phase} failed: ${info.message}`);
      setState("failed", { error: { ...info, phase } });
    }
  };
}

import type { VmControl, VmOutage } from "@blockferry/contracts";
import type { JobRow } from "../db/repositories/jobs.ts";
import { cancelRefusal } from "./cancel-rule.ts";

type OutageJob = Pick<JobRow, "state" | "phase" | "phaseState" | "sourceHostId" | "targetHostId"> & { vm: VmControl };

const iso = (ms: number) => new Date(ms).toISOString();

/** Whether compensation has a way to start the VM on the source (createCompensation's restartSource). */
const sourceStartable = (vm: VmControl) =>
  vm.controller === "libvirt" || (vm.controller === "commands" && Boolean(vm.startSource));

/** What a cancel would do to a stopped VM, by cancelRefusal and createCompensation. */
function cancelEffect(job: OutageJob): VmOutage["cancel"] {
  if (job.state === "cancelling") return null;
  if (cancelRefusal(job) !== null) return "refused";
  return sourceStartable(job.vm) ? "start_on_source" : "stays_stopped";
}

/**
 * What a retry would do to a stopped VM, by the executor: a stored decision to start it on the target is repeated
 * (fencing), one on the source finishes the rollback; with none the cutover resumes where it failed (after a failed
 * rollback that is stop_vm, which stops the VM again should it have been started by hand) and ends starting it on
 * the target.
 */
function retryEffect(job: OutageJob): VmOutage["retry"] {
  if (job.state !== "failed") return null;
  const decided = job.phaseState.startDecision?.host;
  if (decided === "target") return "start_on_target";
  if (decided === "source") return "start_on_source";
  return "resume_then_start_on_target";
}

/**
 * Where the VM is during (and right after) the outage, from the times stop_vm, start_vm and the rollback store in
 * the job's phase state. Null when the job has not stopped the VM, once it was started on the target, and once the
 * job ended for good (a cancel started it again on the source).
 */
export function vmOutageOf(job: OutageJob): VmOutage | null {
  const ps = job.phaseState;
  if (job.state === "rolled_back") {
    if (!ps.lastOutage) return null; // rolled back by a server that did not record it
    return {
      state: "back_on_source",
      since: iso(ps.lastOutage.restartedAt),
      stoppedOn: job.sourceHostId,
      startingOn: null,
      outageMs: ps.lastOutage.restartedAt - ps.lastOutage.stoppedAt,
      retry: "cut_over_again",
      cancel: "keeps_running_on_source",
    };
  }
  if (!ps.vmStoppedAt || ps.vmStartedAt || job.state === "succeeded" || job.state === "cancelled") return null;
  const decided = ps.startDecision?.host;
  const startingOn = decided === "target" ? job.targetHostId : decided === "source" ? job.sourceHostId : null;
  return {
    state: startingOn === null ? "down" : "starting",
    since: iso(ps.vmStoppedAt),
    stoppedOn: job.sourceHostId,
    startingOn,
    outageMs: null,
    retry: retryEffect(job),
    cancel: cancelEffect(job),
  };
}

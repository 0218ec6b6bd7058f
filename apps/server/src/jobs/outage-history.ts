import type { StoredEvent } from "@blockferry/contracts";
import type { EventsRepo } from "../db/repositories/events.ts";
import type { JobRow, JobsRepo } from "../db/repositories/jobs.ts";
import type { OutageHistory, OutageSample } from "./outage-prediction.ts";

/**
 * Stop, final delta, verify and start times of earlier succeeded migrations, for the outage prediction: of the
 * same VM (its libvirt domain, or its source LV on the same host) if there are any, else between the same two hosts.
 */

/** How many earlier outages the prediction takes the median of. */
const SAMPLES = 5;

/** One earlier outage part by part, from its stored events and phase state (its last attempt); null if incomplete. */
export function outageFiguresOf(job: JobRow, events: readonly StoredEvent[]): OutageSample | null {
  const s = job.phaseState;
  if (!s.vmStoppedAt || !s.vmStartedAt) return null;
  const phaseAt = (phase: string) => {
    // The last time the phase began after the stop: earlier attempts (rollbacks) do not count.
    let at: number | null = null;
    for (const e of events)
      if (e.type === "job.phase" && e.data.phase === phase && Date.parse(e.at) >= (s.vmStoppedAt ?? 0))
        at = Date.parse(e.at);
    return at;
  };
  const finalAt = phaseAt("final_delta");
  const verifyAt = phaseAt("verify");
  const startAt = phaseAt("start_vm");
  if (finalAt === null || verifyAt === null || startAt === null) return null;
  const chunk = s.finalChunkBytes ?? 0;
  const runs = s.finalExtents ?? [];
  return {
    jobId: job.id,
    stopSeconds: (finalAt - s.vmStoppedAt) / 1000,
    finalDeltaSeconds: (verifyAt - finalAt) / 1000,
    finalBytes: runs.reduce((sum, [, count]) => sum + count * chunk, 0),
    finalRuns: runs.length,
    verifySeconds: (startAt - verifyAt) / 1000,
    startSeconds: Math.max(0, (s.vmStartedAt - startAt) / 1000),
  };
}

const sameVm = (a: JobRow, b: JobRow) =>
  a.vm.controller === "libvirt" && b.vm.controller === "libvirt"
    ? a.vm.domain === b.vm.domain
    : a.sourceHostId === b.sourceHostId && a.sourceVg === b.sourceVg && a.sourceLv === b.sourceLv;
const sameHosts = (a: JobRow, b: JobRow) =>
  (a.sourceHostId === b.sourceHostId && a.targetHostId === b.targetHostId) ||
  (a.sourceHostId === b.targetHostId && a.targetHostId === b.sourceHostId);

export interface OutageHistoryDeps {
  jobs: Pick<JobsRepo, "recentOutages">;
  events: Pick<EventsRepo, "ofType">;
}

/** The newest fitting earlier migrations' figures for `job` (up to SAMPLES), or null when there is none. */
export function createOutageHistory(d: OutageHistoryDeps) {
  const figures = (jobs: readonly JobRow[]) =>
    jobs
      .slice(0, 2 * SAMPLES)
      .map((j) => outageFiguresOf(j, d.events.ofType(j.id, "job.phase")))
      .filter((f): f is OutageSample => f !== null)
      .slice(0, SAMPLES);
  return (job: JobRow): OutageHistory | null => {
    const earlier = d.jobs.recentOutages(50).filter((j) => j.id !== job.id);
    const ofVm = figures(earlier.filter((j) => sameVm(j, job)));
    if (ofVm.length) return { match: "vm", samples: ofVm };
    const ofHosts = figures(earlier.filter((j) => !sameVm(j, job) && sameHosts(j, job)));
    return ofHosts.length ? { match: "hosts", samples: ofHosts } : null;
  };
}
export type OutageHistorySource = ReturnType<typeof createOutageHistory>;

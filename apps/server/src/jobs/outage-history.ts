import type { StoredEvent } from "@blockferry/contracts";
import type { EventsRepo } from "../db/repositories/events.ts";
import type { JobRow, JobsRepo } from "../db/repositories/jobs.ts";
import type { OutageHistory } from "./outage-prediction.ts";

/**
 * Stop, final delta, verify and start times of an earlier succeeded migration, for the outage prediction: of the
 * same VM (its libvirt domain, or its source LV on the same host) first, else between the same two hosts.
 */

/** One earlier outage part by part, from its stored events and phase state (its last attempt); null if incomplete. */
export function outageFiguresOf(job: JobRow, events: readonly StoredEvent[]): Omit<OutageHistory, "match"> | null {
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

/** The newest fitting earlier migration's figures for `job`, or null when there is none. */
export function createOutageHistory(d: OutageHistoryDeps) {
  return (job: JobRow): OutageHistory | null => {
    const earlier = d.jobs.recentOutages(50).filter((j) => j.id !== job.id);
    const candidates = [
      ...earlier.filter((j) => sameVm(j, job)).map((j) => ({ j, match: "vm" as const })),
      ...earlier.filter((j) => !sameVm(j, job) && sameHosts(j, job)).map((j) => ({ j, match: "hosts" as const })),
    ];
    for (const { j, match } of candidates.slice(0, 5)) {
      const figures = outageFiguresOf(j, d.events.ofType(j.id, "job.phase"));
      if (figures) return { ...figures, match };
    }
    return null;
  };
}
export type OutageHistorySource = ReturnType<typeof createOutageHistory>;

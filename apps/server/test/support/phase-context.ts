// A PhaseContext over a real migrated database, wired as execute-job.ts wires it: state patches, job columns,
// logs and events all go through the real repositories under a claimed lease, so a test reads back what a
// restarted server would find. A "crash" is simply building a new context from the stored row.
import type { EventData, ProgressMessage, StoredEvent } from "@blockferry/contracts";
import type { Phase } from "@blockferry/contracts/vocabulary";
import type { Db } from "../../src/db/open.ts";
import { createEventsRepo } from "../../src/db/repositories/events.ts";
import { createJobObjectsRepo } from "../../src/db/repositories/job-objects.ts";
import { createJobsRepo, type JobRow } from "../../src/db/repositories/jobs.ts";
import { EventHub } from "../../src/events/hub.ts";
import type { HostShell, PhaseContext, PhaseState } from "../../src/jobs/context.ts";

const OWNER = "phase-test-runner";

export interface PhaseContextOptions {
  db: Db;
  jobId: number;
  /** Stored as the job's phase first, so logs and events carry it as they would in a real run; default: as stored. */
  phase?: Phase;
  source: HostShell;
  target: HostShell;
  signal?: AbortSignal;
  /** Told each live progress message, as execute-job.ts builds it for the hub. */
  onProgress?: (p: ProgressMessage) => void;
}

export function phaseContext(o: PhaseContextOptions): PhaseContext {
  const jobs = createJobsRepo(o.db);
  const hub = new EventHub(createEventsRepo(o.db));
  if (!jobs.claim(o.jobId, OWNER, 60_000)) throw new Error(`job ${o.jobId} is leased by another runner`);
  const write = (values: Parameters<typeof jobs.updateOwned>[2]) => {
    if (!jobs.updateOwned(o.jobId, OWNER, values)) throw new Error(`lease on job ${o.jobId} lost`);
  };
  if (o.phase) write({ phase: o.phase });
  let job = jobs.get(o.jobId) as JobRow;
  const phase = job.phase;
  // A copy of what is stored, never shared with an earlier context: only what was saved survives a "crash".
  const state: PhaseState = structuredClone(job.phaseState as PhaseState);
  return {
    get job() {
      return job;
    },
    state,
    signal: o.signal ?? new AbortController().signal,
    leaseOwner: OWNER,
    watchOptions: () => () => {},
    source: o.source,
    target: o.target,
    save(patch) {
      Object.assign(state, patch);
      write({ phaseState: state });
    },
    saveJob: (values) => write(values),
    log(level, message, data) {
      hub.append(o.jobId, "job.log", { level, message, phase, ...data });
    },
    event(type, data) {
      // As in execute-job.ts: TypeScript cannot see that the data plus the phase is EventData<T> for a generic T.
      hub.append(o.jobId, type, { phase, ...data } as EventData<typeof type>);
    },
    markWaiting(waiting) {
      write({ state: waiting ? "waiting_cutover" : "running" });
    },
    progress(p) {
      o.onProgress?.({ ...p, jobId: o.jobId, phase });
    },
    reload() {
      job = jobs.get(o.jobId) as JobRow;
      return job;
    },
  };
}

/** What a restarted server would read about a job: its row, its stored phase state, its events. */
export function stored(db: Db, jobId: number) {
  const job = createJobsRepo(db).get(jobId) as JobRow;
  const events = createEventsRepo(db).listAfter(0, { jobId, limit: 10_000 });
  return {
    job,
    state: job.phaseState as PhaseState,
    events,
    logs: events.filter((e: StoredEvent) => e.type === "job.log").map((e) => (e.data as { message: string }).message),
    liveObjects: createJobObjectsRepo(db)
      .live(jobId)
      .map((r) => `${r.kind}:${r.vg}/${r.lv}`),
  };
}

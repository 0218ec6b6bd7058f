import type {
  AttemptReport,
  DiskVerification,
  JobState,
  MigrationReport,
  PassReport,
  Phase,
  PhaseSpan,
  RollbackReport,
  StoredEvent,
} from "@blockferry/contracts";
import { isTerminalJobState, PHASES, parsePassName } from "@blockferry/contracts/vocabulary";
import type { JournalRow } from "../db/repositories/chunk-map.ts";
import type { JobRow } from "../db/repositories/jobs.ts";
import { dataPathsFromEvents, dataPathView } from "./data-path-view.ts";

/** A pass's kind and number (contracts' parsePassName); a name the journal does not make counts by its prefix, as 1. */
function passKind(pass: string): Pick<PassReport, "kind" | "number"> {
  const parsed = parsePassName(pass);
  if (parsed) return { kind: parsed.kind, number: parsed.number };
  return { kind: pass.startsWith("full") ? "full" : pass.startsWith("catchup") ? "catch_up" : "final", number: 1 };
}

const KIND_ORDER = { full: 0, catch_up: 1, final: 2 } as const;

/** Orders journal pass names as the passes ran: full copies, catch-ups, then final deltas, each by number. */
export function comparePasses(a: string, b: string): number {
  const x = passKind(a);
  const y = passKind(b);
  return KIND_ORDER[x.kind] - KIND_ORDER[y.kind] || x.number - y.number;
}

/**
 * Journal rows (disk by disk, each ordered by offset) folded into one summary per pass, every disk's ranges of a
 * pass together, in the order the passes ran.
 */
export function passReports(rows: readonly JournalRow[]): PassReport[] {
  const byPass = new Map<string, PassReport & { end: number; disk: number }>();
  for (const r of rows) {
    let p = byPass.get(r.pass);
    if (!p) {
      p = { pass: r.pass, ...passKind(r.pass), bytesPlanned: 0, bytesMoved: 0, ranges: 0, runs: 0, end: -1, disk: 0 };
      byPass.set(r.pass, p);
    }
    p.bytesPlanned += r.length;
    if (r.confirmed) p.bytesMoved += r.length;
    p.ranges++;
    // A range that starts where the previous one of the same disk ended continues its run.
    const disk = r.disk ?? 0;
    if (r.offset !== p.end || disk !== p.disk) p.runs++;
    p.end = r.offset + r.length;
    p.disk = disk;
  }
  return [...byPass.values()]
    .map(({ end: _end, disk: _disk, ...p }) => p)
    .sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.number - b.number);
}

const ms = (iso: string) => Date.parse(iso);
const spanOutcome = (state: JobState): PhaseSpan["outcome"] =>
  state === "failed" || state === "cancelled" || state === "rolled_back" ? state : "done";

/** A retry (job.state queued with `retry`), or the first run when none was open, starts a new attempt. */
const opensAttempt = (e: StoredEvent, anyOpen: boolean) =>
  e.type === "job.state" && (e.data.retry !== undefined || (e.data.state === "running" && !anyOpen));

/**
 * The attempts and their phases, from the job's stored events (oldest first): a job.phase event opens a phase, the
 * next one or a final job.state closes it; a retry (job.state queued with `retry`) starts a new attempt.
 */
export function attemptReports(events: readonly StoredEvent[]): AttemptReport[] {
  const attempts: AttemptReport[] = [];
  let current: AttemptReport | null = null;
  const open = (at: string): AttemptReport => {
    current = {
      attempt: attempts.length + 1,
      startedAt: at,
      endedAt: null,
      outcome: null,
      phase: null,
      error: null,
      phases: [],
    };
    attempts.push(current);
    return current;
  };
  const closeSpan = (a: AttemptReport, at: string, outcome: PhaseSpan["outcome"]) => {
    const last = a.phases[a.phases.length - 1];
    if (!last || last.endedAt !== null) return;
    last.endedAt = at;
    last.durationMs = Math.max(0, ms(at) - ms(last.startedAt));
    last.outcome = outcome;
  };
  for (const e of events) {
    if (opensAttempt(e, current !== null)) {
      open(e.at);
      continue;
    }
    if (e.type === "job.phase") {
      const a: AttemptReport = current ?? open(e.at);
      closeSpan(a, e.at, "done");
      a.phases.push({ phase: e.data.phase, startedAt: e.at, endedAt: null, durationMs: null, outcome: "running" });
      a.phase = e.data.phase;
      continue;
    }
    if (e.type === "job.log" && e.data.level === "error" && current) {
      (current as AttemptReport).error = e.data.message;
      continue;
    }
    if (e.type === "job.state" && isTerminalJobState(e.data.state)) {
      const a: AttemptReport = current ?? open(e.at);
      closeSpan(a, e.at, spanOutcome(e.data.state));
      a.endedAt = e.at;
      a.outcome = e.data.state;
      // A rollback or a failed rollback stores the phase it moves back to; the attempt ended where it failed.
      a.phase = a.phases[a.phases.length - 1]?.phase ?? e.data.phase;
      if (e.data.state === "succeeded" || e.data.state === "cancelled") a.error = null;
    }
  }
  return attempts;
}

/**
 * The rollbacks that discarded copies, from the job's stored events (oldest first): the job.copied events since the
 * job last started over, closed by a job.rolled_back followed by the job.state rolled_back that sets the job back to
 * prechecks (discardCopies forgot the journal then). A rollback that kept its copies (the job waits for the cutover
 * again) discards nothing: its passes stay in the journal, and the ones after it add to them.
 */
export function rollbackReports(events: readonly StoredEvent[]): RollbackReport[] {
  const rollbacks: RollbackReport[] = [];
  let passes: RollbackReport["discardedPasses"] = [];
  let attempt = 0;
  let rolledBack: Extract<StoredEvent, { type: "job.rolled_back" }> | null = null;
  for (const e of events) {
    // Counted as attemptReports opens them: with none open, a phase (or the rollback's end) opens the first.
    if (opensAttempt(e, attempt > 0) || (attempt === 0 && (e.type === "job.phase" || e.type === "job.rolled_back")))
      attempt++;
    if (e.type === "job.copied") {
      const { pass, disk, rangesTotal, rangesAlreadyDone, bytesRead, bytesSent } = e.data;
      passes.push({ pass, disk: disk ?? 0, rangesTotal, rangesAlreadyDone, bytesRead, bytesSent, at: e.at });
    } else if (e.type === "job.rolled_back") rolledBack = e;
    else if (e.type === "job.state" && e.data.state === "rolled_back" && rolledBack) {
      if (e.data.phase === "prechecks") {
        const { phase, reason, outageMs } = rolledBack.data;
        rollbacks.push({
          attempt,
          at: rolledBack.at,
          phase,
          reason,
          outageMs,
          discardedPasses: passes,
        });
        passes = [];
      }
      rolledBack = null;
    }
  }
  return rollbacks;
}

/** Time in each phase over all attempts, in phase order; a phase still running counts up to `now`. */
export function phaseDurations(attempts: readonly AttemptReport[], now: number): MigrationReport["phaseDurationsMs"] {
  const total = new Map<Phase, number>();
  for (const a of attempts)
    for (const s of a.phases)
      total.set(s.phase, (total.get(s.phase) ?? 0) + (s.durationMs ?? Math.max(0, now - ms(s.startedAt))));
  return PHASES.filter((p) => total.has(p)).map((phase) => ({ phase, durationMs: total.get(phase) ?? 0 }));
}

/** Each disk's last job.verified event (a one-disk job's carry no disk: disk 0), disk 0 first. */
export function diskVerifications(events: readonly StoredEvent[]): DiskVerification[] {
  const last = new Map<number, DiskVerification>();
  for (const e of events)
    if (e.type === "job.verified") {
      const disk = e.data.disk ?? 0;
      last.set(disk, { disk, ranges: e.data.ranges, full: e.data.full, at: e.at });
    }
  return [...last.values()].sort((a, b) => a.disk - b.disk);
}

export interface ReportSources {
  job: JobRow;
  events: readonly StoredEvent[];
  journal: readonly JournalRow[];
  targetRemoved: boolean;
  now?: number;
}

export function buildMigrationReport(s: ReportSources): MigrationReport {
  const passes = passReports(s.journal);
  const attempts = attemptReports(s.events);
  const { startedAt, finishedAt } = s.job;
  const ended = isTerminalJobState(s.job.state);
  // A failed job has no finishedAt (a retry may still finish it): it ended with its last attempt.
  const end = finishedAt ?? attempts[attempts.length - 1]?.endedAt ?? null;
  return {
    id: s.job.id,
    passes,
    bytesMoved: passes.reduce((sum, p) => sum + p.bytesMoved, 0),
    attempts,
    rollbacks: rollbackReports(s.events),
    phaseDurationsMs: phaseDurations(attempts, s.now ?? Date.now()),
    durationMs: startedAt && end && ended ? Math.max(0, ms(end) - ms(startedAt)) : null,
    targetRemoved: s.targetRemoved,
    dataPath: dataPathView(s.job.options.dataPath, dataPathsFromEvents(s.events)),
    verified: diskVerifications(s.events),
  };
}

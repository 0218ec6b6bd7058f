import type { JobState, MigrationReport, Phase } from "@blockferry/contracts";
import { formatClock, formatMs, phaseLabel } from "../../lib/format.ts";
import { PHASES } from "../../lib/job-vocabulary.ts";

type Step = "done" | "current" | "failed" | "pending";

/**
 * The phases in order: done ones ticked, the current one highlighted (red when the job failed in it). With the
 * job's report, each phase shows the time spent in it, and a phase an earlier attempt failed in says so: a success
 * after retries does not look as if nothing went wrong.
 */
export function PhaseTimeline(props: {
  phase: Phase;
  state: JobState;
  phaseStarts: Record<string, string>;
  report?: MigrationReport | undefined;
}) {
  const current = PHASES.indexOf(props.phase);
  const finished = props.state === "succeeded";
  const durations = new Map(props.report?.phaseDurationsMs.map((d) => [d.phase, d.durationMs]));
  const attempts = props.report?.attempts ?? [];
  // Earlier attempts that ended badly, by the phase they ended in (the last attempt is the step's own state).
  const earlier = attempts.slice(0, -1).filter((a) => a.outcome !== null && a.outcome !== "succeeded");
  return (
    <ol className="timeline" aria-label="Phases">
      {PHASES.map((p, i) => {
        const step: Step =
          finished || i < current
            ? "done"
            : i === current
              ? props.state === "failed" || props.state === "cancelled" || props.state === "rolled_back"
                ? "failed"
                : "current"
              : "pending";
        const at = props.phaseStarts[p];
        const spent = durations.get(p);
        const failedHere = earlier.filter((a) => a.phase === p);
        return (
          <li
            key={p}
            className={`step step-${step}${failedHere.length > 0 ? " step-retried" : ""}`}
            aria-current={step === "current" ? "step" : undefined}
            data-testid={`phase-${p}`}
          >
            <span className="dot" aria-hidden="true" />
            <span className="step-name">{phaseLabel(p)}</span>
            <span className="sr-only">({step})</span>
            {at ? <time dateTime={at}>{formatClock(at)}</time> : null}
            {spent !== undefined && p !== "done" ? (
              <span className="step-duration" title="time spent in this phase, all attempts together">
                {formatMs(spent)}
              </span>
            ) : null}
            {failedHere.map((a) => (
              <span key={a.attempt} className="step-note bad">
                attempt {a.attempt} {a.outcome === "rolled_back" ? "rolled back" : a.outcome} here
              </span>
            ))}
          </li>
        );
      })}
    </ol>
  );
}

import type { JobState, Phase } from "@blockferry/contracts";
import { formatClock, phaseLabel } from "../../lib/format.ts";
import { PHASES } from "../../lib/job-vocabulary.ts";

type Step = "done" | "current" | "failed" | "pending";

/** The phases in order: done ones ticked, the current one highlighted (red when the job failed in it). */
export function PhaseTimeline(props: { phase: Phase; state: JobState; phaseStarts: Record<string, string> }) {
  const current = PHASES.indexOf(props.phase);
  const finished = props.state === "succeeded";
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
        return (
          <li key={p} className={`step step-${step}`} aria-current={step === "current" ? "step" : undefined}>
            <span className="dot" aria-hidden="true" />
            <span className="step-name">{phaseLabel(p)}</span>
            <span className="sr-only">({step})</span>
            {at ? <time dateTime={at}>{formatClock(at)}</time> : null}
          </li>
        );
      })}
    </ol>
  );
}

import type { JobState } from "@blockferry/contracts";
import { JOB_STATE_LABELS as LABELS } from "../lib/job-vocabulary.ts";

export function StateBadge({ state }: { state: JobState }) {
  return <span className={`badge state-${state}`}>{LABELS[state]}</span>;
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const v = Math.max(0, Math.min(100, value));
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(v)}
    >
      <div className="progress-fill" style={{ width: `${v}%` }} />
    </div>
  );
}

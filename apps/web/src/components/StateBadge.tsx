import type { JobState } from "@blockferry/contracts";
import { JOB_STATE_LABELS as LABELS } from "../lib/job-vocabulary.ts";

export function StateBadge({ state }: { state: JobState }) {
  return <span className={`badge state-${state}`}>{LABELS[state]}</span>;
}

/** `ahead`: how far something not yet final got (bytes streamed beyond those confirmed), drawn lighter. */
export function ProgressBar({ value, label, ahead }: { value: number; label: string; ahead?: number }) {
  const v = Math.max(0, Math.min(100, value));
  const a = ahead === undefined ? v : Math.max(v, Math.min(100, ahead));
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
      {a > v ? <div className="progress-ahead" style={{ width: `${a - v}%` }} /> : null}
    </div>
  );
}

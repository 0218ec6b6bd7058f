/** A half-circle gauge of how full the source snapshot is: when it overflows, the snapshot is lost. */
export function SnapshotGauge({ percent, caption = "snapshot fill" }: { percent: number | null; caption?: string }) {
  const v = percent === null ? 0 : Math.max(0, Math.min(100, percent));
  const r = 44;
  const arc = Math.PI * r;
  const level = v >= 85 ? "gauge-bad" : v >= 60 ? "gauge-warn" : "gauge-ok";
  return (
    <div className="gauge">
      {/* The drawing is for the eye; the meter beside it is what assistive technology reads. */}
      <meter className="sr-only" min={0} max={100} value={v} aria-label="Snapshot fill">
        {percent === null ? "no snapshot" : `${v.toFixed(1)}%`}
      </meter>
      <svg viewBox="0 0 110 62" width="132" height="74" aria-hidden="true">
        <path className="gauge-track" d="M 11 55 A 44 44 0 0 1 99 55" fill="none" strokeWidth="10" />
        <path
          className={level}
          d="M 11 55 A 44 44 0 0 1 99 55"
          fill="none"
          strokeWidth="10"
          strokeDasharray={`${(v / 100) * arc} ${arc}`}
        />
        <text className="gauge-value" x="55" y="52" textAnchor="middle" fontSize="15">
          {percent === null ? "–" : `${v.toFixed(0)}%`}
        </text>
      </svg>
      <div className="muted small">{caption}</div>
    </div>
  );
}

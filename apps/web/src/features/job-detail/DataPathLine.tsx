import type { Migration } from "@blockferry/contracts";
import { dataPathSummary } from "@blockferry/contracts/vocabulary";

/**
 * Which way the copies went, plainly: "direct, lab1 → lab2", "relay: direct path not available: ...", or what was
 * asked for before any copy ran. Passes that went differently are listed (auto decides per pass).
 */
export function DataPathLine({ job, hostName }: { job: Migration; hostName(id: number): string }) {
  const v = job.dataPath;
  const route = `${hostName(job.source.hostId)} → ${hostName(job.target.hostId)}`;
  const text =
    v.ran === "direct"
      ? `direct, ${route}`
      : v.ran === "relay" && !v.reason
        ? `relay, ${hostName(job.source.hostId)} → this server → ${hostName(job.target.hostId)}`
        : dataPathSummary(v);
  const mixed = new Set(v.passes.map((p) => p.ran)).size > 1;
  return (
    <p className="data-path" data-testid="job-data-path">
      <strong>Data path:</strong> {text}
      {v.requested !== "relay" && v.ran !== null ? <span className="muted small"> (asked: {v.requested})</span> : null}
      {mixed ? (
        <span className="muted small">
          {" "}
          · by pass: {v.passes.map((p) => `${p.disk ? `disk ${p.disk} ` : ""}${p.pass} ${p.ran}`).join(", ")}
        </span>
      ) : null}
    </p>
  );
}

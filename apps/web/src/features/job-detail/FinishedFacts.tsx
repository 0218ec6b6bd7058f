import type { DiskVerification, Migration, MigrationDisk, MigrationReport } from "@blockferry/contracts";
import { Bytes } from "../../components/Figures.tsx";
import { budgetOf, overBudget } from "../../lib/cutover-policy.ts";
import { formatDuration, formatMs, formatTime, phaseLabel, stateLabel } from "../../lib/format.ts";
import { DISK_STATE_WORDS } from "../../lib/job-disks.ts";
import { attemptsText, discardedPassesText, jobDurationMs, passLabel } from "../../lib/job-facts.ts";
import { migrationLogUrl } from "../jobs/api.ts";

/**
 * What a migration did, once it ended: the volume (each disk of a VM's set: where it went, its size, how it was
 * verified and whether its source LV is kept), each pass's bytes and runs, how long it took, its attempts (and
 * where the failed ones stopped), what each rollback discarded, who started it, and its log as a file.
 */
export function FinishedFacts({ job, report }: { job: Migration; report: MigrationReport | undefined }) {
  const failed = report?.attempts.filter((a) => a.outcome !== null && a.outcome !== "succeeded") ?? [];
  return (
    <section className="card facts" aria-labelledby="facts-title" data-testid="finished-facts">
      <h3 id="facts-title">What this migration did</h3>
      <dl className="facts-list">
        <dt>{job.disks.length > 1 ? "Volumes" : "Volume"}</dt>
        <dd data-testid="facts-volume">
          <Bytes n={job.sizeBytes} />
          {job.disks.length > 1 ? ` in ${job.disks.length} disks` : ""}
        </dd>
        <dt>Moved in total</dt>
        <dd data-testid="facts-moved">
          {report ? (
            <>
              <Bytes n={report.bytesMoved} /> in {report.passes.length} {report.passes.length === 1 ? "pass" : "passes"}
            </>
          ) : (
            "–"
          )}
        </dd>
        <dt>Duration</dt>
        <dd data-testid="facts-duration">{formatMs(report?.durationMs ?? jobDurationMs(job))}</dd>
        {job.outageMs !== null || job.predictedOutageSeconds !== null ? (
          <>
            <dt>Outage</dt>
            <dd data-testid="facts-outage">
              <OutageVersusPrediction job={job} />
            </dd>
          </>
        ) : null}
        <dt>Attempts</dt>
        <dd data-testid="facts-attempts">
          {attemptsText(job.attempt)}
          {failed.map((a) => (
            <div key={a.attempt} className="small bad" data-testid={`facts-attempt-${a.attempt}`}>
              Attempt {a.attempt} {stateLabel(a.outcome ?? "")} in {phaseLabel(a.phase ?? job.phase)}
              {a.error ? `: ${a.error}` : ""}
            </div>
          ))}
        </dd>
        {report && report.rollbacks.length > 0 ? (
          <>
            <dt>Discarded by rollbacks</dt>
            <dd data-testid="facts-rollbacks">
              {report.rollbacks.map((r, i) => (
                <div key={r.attempt} className="small" data-testid={`facts-rollback-${i + 1}`}>
                  Attempt {r.attempt} rolled back{" "}
                  <time dateTime={r.at} title={r.at}>
                    {formatTime(r.at)}
                  </time>{" "}
                  in {phaseLabel(r.phase)} (VM down {formatMs(r.outageMs)}): {r.reason}. Discarded:{" "}
                  {discardedPassesText(r, job.disks.length)}
                </div>
              ))}
            </dd>
          </>
        ) : null}
        <dt>Started by</dt>
        <dd data-testid="facts-created-by">{job.createdBy ?? "not recorded (before accounts)"}</dd>
      </dl>
      {/* A failed or cancelled set keeps its disks' progress panel: where each one stopped. */}
      {job.disks.length > 1 && job.state === "succeeded" ? <FinishedDisks job={job} report={report} /> : null}
      {report && report.passes.length > 0 ? (
        <table className="passes" aria-label="Copy passes">
          <thead>
            <tr>
              <th scope="col">Pass</th>
              <th scope="col">Moved</th>
              <th scope="col">Runs</th>
              <th scope="col">Ranges</th>
            </tr>
          </thead>
          <tbody>
            {report.passes.map((p) => (
              <tr key={p.pass} data-testid={`pass-${p.pass}`}>
                <th scope="row">{passLabel(p)}</th>
                <td>
                  <Bytes n={p.bytesMoved} />
                  {p.bytesMoved < p.bytesPlanned ? (
                    <span className="muted small">
                      {" "}
                      of <Bytes n={p.bytesPlanned} />
                    </span>
                  ) : null}
                </td>
                <td>{p.runs.toLocaleString()}</td>
                <td>{p.ranges.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <p>
        <a className="button" href={migrationLogUrl(job.id)} download={`blockferry-migration-${job.id}.log`}>
          Download log
        </a>
      </p>
    </section>
  );
}

/**
 * The outage predicted right before the stop beside the one measured, and the budget when there was one: how far
 * to trust the next prediction.
 */
function OutageVersusPrediction({ job }: { job: Migration }) {
  const budget = budgetOf(job);
  const over = overBudget(job);
  const predicted = job.predictedOutageSeconds;
  const measured = job.outageMs;
  const off =
    predicted !== null && measured !== null && predicted > 0
      ? Math.round(((measured / 1000 - predicted) / predicted) * 100)
      : null;
  return (
    <span className="outage-compare">
      <span data-testid="facts-outage-predicted">
        <span className="muted">predicted</span> {formatDuration(predicted)}
      </span>
      <span data-testid="facts-outage-measured" className={over ? "bad" : undefined}>
        <span className="muted">measured</span> {formatMs(measured)}
        {over ? " (over budget)" : ""}
      </span>
      {budget !== null ? (
        <span data-testid="facts-outage-budget">
          <span className="muted">budget</span> {budget} s
        </span>
      ) : null}
      {off !== null ? (
        <span className="muted small" data-testid="facts-outage-error">
          {off === 0 ? "as predicted" : `${Math.abs(off)}% ${off > 0 ? "longer" : "shorter"} than predicted`}
        </span>
      ) : null}
    </span>
  );
}

const volume = (v: { vg: string; lv: string }) => `${v.vg}/${v.lv}`;

/** How a disk's copy was proven: its verify phase's re-hash on both hosts, else where the disk stands. */
function verifiedWords(d: MigrationDisk, v: DiskVerification | undefined): string {
  if (!v) return DISK_STATE_WORDS[d.state];
  const ranges = `${v.ranges.toLocaleString()} ${v.ranges === 1 ? "range" : "ranges"}`;
  return v.full
    ? `verified: whole volume re-hashed on both hosts (${ranges}), all equal`
    : `verified: final delta re-hashed on both hosts (${ranges}), all equal`;
}

/** Where a disk's source LV stands after the migration: kept on the source host, or removed (when, by whom). */
const sourceWords = (d: MigrationDisk): string =>
  d.sourceRemovedAt
    ? `removed ${formatTime(d.sourceRemovedAt)} by ${d.sourceRemovedBy ?? "an operator"}`
    : "kept on the source host";

/** A VM's disks once its migration succeeded, one row each: every disk, not disk 0 only. */
function FinishedDisks({ job, report }: { job: Migration; report: MigrationReport | undefined }) {
  return (
    <table className="passes finished-disks" aria-label="Disks moved" data-testid="facts-disks">
      <thead>
        <tr>
          <th scope="col">Disk</th>
          <th scope="col">Source → target</th>
          <th scope="col">Size</th>
          <th scope="col">Verified</th>
          <th scope="col">Source LV</th>
        </tr>
      </thead>
      <tbody>
        {job.disks.map((d) => (
          <tr key={d.index} data-testid={`facts-disk-${d.index}`}>
            <th scope="row">{d.index}</th>
            <td>
              {volume(d.source)} → {volume(d.target)}
              {d.target.thinPool ? ` (thin pool ${d.target.thinPool})` : ""}
            </td>
            <td>
              <Bytes n={d.sizeBytes} />
              {d.kind ? <span className="muted small"> {d.kind}</span> : null}
            </td>
            <td>
              {verifiedWords(
                d,
                report?.verified.find((v) => v.disk === d.index),
              )}
            </td>
            <td>{sourceWords(d)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

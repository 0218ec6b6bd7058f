import type { Migration, MigrationReport } from "@blockferry/contracts";
import { Bytes } from "../../components/Figures.tsx";
import { formatMs, phaseLabel, stateLabel } from "../../lib/format.ts";
import { attemptsText, jobDurationMs, passLabel } from "../../lib/job-facts.ts";
import { migrationLogUrl } from "../jobs/api.ts";

/**
 * What a migration did, once it ended: the volume, each pass's bytes and runs, how long it took, its attempts
 * (and where the failed ones stopped), who started it, and its log as a file.
 */
export function FinishedFacts({ job, report }: { job: Migration; report: MigrationReport | undefined }) {
  const failed = report?.attempts.filter((a) => a.outcome !== null && a.outcome !== "succeeded") ?? [];
  return (
    <section className="card facts" aria-labelledby="facts-title" data-testid="finished-facts">
      <h3 id="facts-title">What this migration did</h3>
      <dl className="facts-list">
        <dt>Volume</dt>
        <dd data-testid="facts-volume">
          <Bytes n={job.sizeBytes} />
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
        <dt>Started by</dt>
        <dd data-testid="facts-created-by">{job.createdBy ?? "not recorded (before accounts)"}</dd>
      </dl>
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

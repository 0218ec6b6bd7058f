import type { Migration } from "@blockferry/contracts";
import { useEffect, useState } from "react";
import { Bytes } from "../../components/Figures.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { ProgressBar, StateBadge } from "../../components/StateBadge.tsx";
import { Table } from "../../components/Table.tsx";
import { VmDownBadge } from "../../components/VmDownBadge.tsx";
import { budgetOf, overBudget } from "../../lib/cutover-policy.ts";
import { formatMs, formatTime, percent, phaseLabel } from "../../lib/format.ts";
import { movedWords } from "../../lib/job-disks.ts";
import { attemptsText, jobDurationMs } from "../../lib/job-facts.ts";
import { isJobState, JOB_STATE_LABELS, JOB_STATES as STATES } from "../../lib/job-vocabulary.ts";
import { Link, navigate, useLocation } from "../../lib/router.tsx";
import { useHosts } from "../hosts/api.ts";
import { useCan } from "../session/session-store.ts";
import { type MigrationFilters, useMigrations } from "./api.ts";

/** Filters live in the URL, so a filtered view can be bookmarked and Back works. */
function useFilters(): [MigrationFilters, (patch: Record<string, string>) => void] {
  const { search } = useLocation();
  const filters: MigrationFilters = {};
  const state = search.get("state");
  if (state && isJobState(state)) filters.state = state;
  const hostId = Number(search.get("hostId"));
  if (hostId > 0) filters.hostId = hostId;
  const q = search.get("q");
  if (q) filters.q = q;
  const since = search.get("since");
  if (since) filters.since = new Date(`${since}T00:00:00`).toISOString();
  if (search.get("overBudget") === "true") filters.overBudget = true;
  const set = (patch: Record<string, string>) => {
    const next = new URLSearchParams(search);
    for (const [k, v] of Object.entries(patch)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    const s = next.toString();
    navigate(`/jobs${s ? `?${s}` : ""}`, { replace: true });
  };
  return [filters, set];
}

export function JobsPage() {
  const { search } = useLocation();
  const [filters, setFilters] = useFilters();
  const jobs = useMigrations(filters);
  const hosts = useHosts();
  const canMigrate = useCan("operator");
  const [q, setQ] = useState(search.get("q") ?? "");
  // Debounce typing into the search box: one request per pause, not per key.
  // biome-ignore lint/correctness/useExhaustiveDependencies: only the typed text drives this.
  useEffect(() => {
    const t = setTimeout(() => {
      if ((search.get("q") ?? "") !== q) setFilters({ q });
    }, 250);
    return () => clearTimeout(t);
  }, [q]);
  const hostName = (id: number) => hosts.data?.find((h) => h.id === id)?.name ?? `#${id}`;
  const filtered = Boolean(filters.state || filters.hostId || filters.q || filters.since || filters.overBudget);

  return (
    <section aria-labelledby="jobs-title">
      <div className="page-head">
        <h2 id="jobs-title">Migrations</h2>
        {canMigrate ? (
          <Link className="button primary" href="/migrations/new">
            New migration
          </Link>
        ) : null}
      </div>
      <form className="filters" aria-label="Filter migrations" onSubmit={(e) => e.preventDefault()}>
        <label>
          State
          <select value={filters.state ?? ""} onChange={(e) => setFilters({ state: e.target.value })}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {JOB_STATE_LABELS[s]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Host
          <select value={filters.hostId ?? ""} onChange={(e) => setFilters({ hostId: e.target.value })}>
            <option value="">any</option>
            {hosts.data?.map((h) => (
              <option key={h.id} value={h.id}>
                {h.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Since
          <input
            type="date"
            value={search.get("since") ?? ""}
            onChange={(e) => setFilters({ since: e.target.value })}
          />
        </label>
        <label className="inline over-budget-filter">
          <input
            type="checkbox"
            checked={filters.overBudget === true}
            onChange={(e) => setFilters({ overBudget: e.target.checked ? "true" : "" })}
          />
          Over budget only
        </label>
        <label className="grow">
          Search
          <input type="search" value={q} placeholder="VG or LV name" onChange={(e) => setQ(e.target.value)} />
        </label>
      </form>
      {jobs.isPending ? (
        <Loading what="migrations" />
      ) : jobs.isError ? (
        <ErrorState error={jobs.error} retry={() => void jobs.refetch()} />
      ) : jobs.data.length === 0 ? (
        <Empty>
          {filtered ? (
            "No migration matches these filters."
          ) : canMigrate ? (
            <>
              No migrations yet. <Link href="/migrations/new">Start one</Link>: the wizard walks you through it.
            </>
          ) : (
            "No migrations yet."
          )}
        </Empty>
      ) : (
        <Table
          label="Migrations"
          className="jobs"
          columns={[
            "#",
            "Volume",
            "Size",
            "State",
            "Phase",
            "Progress",
            "Attempts",
            "Duration",
            "Outage",
            "Result",
            "Created",
          ]}
        >
          {jobs.data.map((m) => (
            <tr key={m.id} data-testid={`job-row-${m.id}`}>
              <td>
                <Link href={`/jobs/${m.id}`} aria-label={`Migration ${m.id}`}>
                  {m.id}
                </Link>
              </td>
              <td>
                <Link href={`/jobs/${m.id}`}>
                  {hostName(m.source.hostId)}:{movedWords(m)}
                </Link>
                <div className="muted small">
                  → {hostName(m.target.hostId)}:
                  {m.disks.length > 1
                    ? [
                        ...new Set(
                          m.disks.map((d) => (d.target.thinPool ? `${d.target.vg}/${d.target.thinPool}` : d.target.vg)),
                        ),
                      ].join(", ")
                    : `${m.target.vg}/${m.target.lv}`}
                </div>
              </td>
              <td className="size-cell" data-testid={`job-size-${m.id}`}>
                <Bytes n={m.sizeBytes} />
              </td>
              <td>
                <StateBadge state={m.state} />
                <VmDownBadge job={m} />
              </td>
              <td>{phaseLabel(m.phase)}</td>
              <td className="progress-cell">
                <ProgressBar value={percent(m.bytesDone, m.bytesTotal)} label={`Migration ${m.id} progress`} />
                <span className="small muted" title="the current or last copy pass">
                  <Bytes n={m.bytesDone} /> / <Bytes n={m.bytesTotal} />
                </span>
              </td>
              <td data-testid={`job-attempts-${m.id}`}>{attemptsText(m.attempt)}</td>
              <td data-testid={`job-duration-${m.id}`} title="from the first start to the end (or now)">
                {formatMs(jobDurationMs(m))}
              </td>
              <td data-testid={`job-outage-${m.id}`}>
                <OutageCell job={m} />
              </td>
              <td
                className={`result-cell ${m.error ? "bad" : m.state === "succeeded" ? "good" : ""}`}
                title={m.error?.message}
              >
                <div className="clamp-2">{m.error ? m.error.message : m.state === "succeeded" ? "verified" : "–"}</div>
              </td>
              <td>{formatTime(m.createdAt)}</td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

/** The measured outage, the budget under it when there was one, marked when it went over. */
function OutageCell({ job }: { job: Migration }) {
  const budget = budgetOf(job);
  const over = overBudget(job);
  return (
    <>
      <span className={over ? "bad" : undefined}>{formatMs(job.outageMs)}</span>
      {budget !== null ? (
        <div className={`small ${over ? "bad" : "muted"}`}>
          {job.outageMs === null ? "budget" : over ? "over" : "of"} {budget} s{job.outageMs === null ? "" : " budget"}
        </div>
      ) : null}
    </>
  );
}

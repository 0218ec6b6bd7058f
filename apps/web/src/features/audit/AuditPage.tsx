import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { Table } from "../../components/Table.tsx";
import { formatTime } from "../../lib/format.ts";
import { useAudit } from "./api.ts";

function details(d: unknown): string {
  if (d === null || d === undefined) return "";
  if (typeof d !== "object") return String(d);
  return Object.entries(d as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
}

export function AuditPage() {
  const audit = useAudit();
  const entries = audit.data?.pages.flatMap((p) => p.entries) ?? [];
  return (
    <section aria-labelledby="audit-title">
      <div className="page-head">
        <h2 id="audit-title">Audit log</h2>
        <button type="button" onClick={() => void audit.refetch()} disabled={audit.isFetching}>
          {audit.isFetching && !audit.isFetchingNextPage ? "Refreshing…" : "Refresh"}
        </button>
      </div>
      {audit.isPending ? (
        <Loading what="the audit log" />
      ) : audit.isError ? (
        <ErrorState error={audit.error} retry={() => void audit.refetch()} />
      ) : entries.length === 0 ? (
        <Empty>Nothing recorded yet.</Empty>
      ) : (
        <>
          <Table
            label="Audit log"
            className="audit"
            columns={["Time", "Actor", "Address", "Action", "Subject", "Details"]}
          >
            {entries.map((e) => (
              <tr key={e.id}>
                <td>{formatTime(e.at)}</td>
                <td>{e.actor}</td>
                <td>{e.address ?? <span className="muted">–</span>}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>{e.subject}</td>
                <td className="small">{details(e.details)}</td>
              </tr>
            ))}
          </Table>
          <p className="actions">
            {audit.hasNextPage ? (
              <button type="button" onClick={() => void audit.fetchNextPage()} disabled={audit.isFetchingNextPage}>
                {audit.isFetchingNextPage ? "Loading…" : "Older entries"}
              </button>
            ) : (
              <span className="muted small">The beginning of the log.</span>
            )}
          </p>
        </>
      )}
    </section>
  );
}

import type { Host } from "@blockferry/contracts";
import { useState } from "react";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { errorText } from "../../lib/api.ts";
import { Link } from "../../lib/router.tsx";
import { useCan } from "../session/session-store.ts";
import { AddHostForm } from "./AddHostForm.tsx";
import { effectiveMigrationAddress, useDeleteHost, useHostHealth, useHosts, useProbeHost } from "./api.ts";
import { TrustDialog } from "./TrustDialog.tsx";

const STATUS_LABEL: Record<Host["status"], string> = {
  untrusted: "not trusted yet",
  trusted: "trusted",
  key_changed: "KEY CHANGED – blocked",
};

export function HostHealthCell({ host }: { host: Host }) {
  const health = useHostHealth(host.id, host.status === "trusted");
  if (host.status !== "trusted") return <span className="muted">–</span>;
  if (health.isPending) return <span className="muted">checking…</span>;
  if (health.isError) return <span className="bad">{errorText(health.error)}</span>;
  return health.data.reachable ? (
    <span className="good">
      reachable, <span className="figure">{Math.round(health.data.latencyMs ?? 0)} ms</span>
    </span>
  ) : (
    <span className="bad">unreachable: {health.data.error}</span>
  );
}

export function KeyChangedBanner({ hosts }: { hosts: Host[] }) {
  const changed = hosts.filter((h) => h.status === "key_changed");
  if (changed.length === 0) return null;
  return (
    <div className="banner danger" role="alert">
      <strong>Host key changed:</strong> {changed.map((h) => h.name).join(", ")} presented a different SSH host key and{" "}
      {changed.length === 1 ? "is" : "are"} blocked. Nothing runs there until you check the new key and pin it.
    </div>
  );
}

export function HostsPage() {
  const hosts = useHosts();
  const probe = useProbeHost();
  const del = useDeleteHost();
  const isAdmin = useCan("admin");
  const [trusting, setTrusting] = useState<{ host: Host; fingerprint: string } | null>(null);
  const [probeError, setProbeError] = useState<{ host: Host; message: string } | null>(null);
  const [removing, setRemoving] = useState<Host | null>(null);

  const onAdded = (host: Host, fingerprint: string | null, error: string | null) => {
    if (fingerprint) setTrusting({ host, fingerprint });
    else setProbeError({ host, message: error ?? "the host did not answer" });
  };
  const reprobe = (host: Host) =>
    probe.mutate(host.id, {
      onSuccess: (r) => {
        setProbeError(null);
        setTrusting({ host, fingerprint: r.fingerprint });
      },
      onError: (e) => setProbeError({ host, message: errorText(e) }),
    });

  return (
    <section aria-labelledby="hosts-title">
      <h2 id="hosts-title">Hosts</h2>
      {hosts.data ? <KeyChangedBanner hosts={hosts.data} /> : null}
      {probeError && isAdmin ? (
        <div className="banner warning" role="alert">
          Could not fetch the host key of <strong>{probeError.host.name}</strong>: {probeError.message}{" "}
          <button type="button" onClick={() => reprobe(probeError.host)} disabled={probe.isPending}>
            Try again
          </button>
        </div>
      ) : null}
      <div className="two-col">
        <div>
          {hosts.isPending ? (
            <Loading what="hosts" />
          ) : hosts.isError ? (
            <ErrorState error={hosts.error} retry={() => void hosts.refetch()} />
          ) : hosts.data.length === 0 ? (
            <Empty>
              {isAdmin
                ? "No hosts yet. Add the hypervisors you migrate between: the form asks for an address and a key."
                : "No hosts yet. An admin adds the hypervisors you migrate between."}
            </Empty>
          ) : (
            <div className="table-scroll">
              <table className="table" aria-label="Hosts">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Address</th>
                    <th scope="col">Migration address</th>
                    <th scope="col">Key</th>
                    <th scope="col">Health</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {hosts.data.map((h) => (
                    <tr key={h.id} data-testid={`host-row-${h.name}`}>
                      <th scope="row">
                        <Link href={`/hosts/${h.id}`}>{h.name}</Link>
                      </th>
                      <td>
                        {h.username}@{h.address}:{h.port}
                      </td>
                      <td data-testid="host-migration-address">
                        {effectiveMigrationAddress(h)}
                        {h.migrationAddress ? null : <span className="muted small"> (its address)</span>}
                      </td>
                      <td>
                        <span className={`badge host-${h.status}`}>{STATUS_LABEL[h.status]}</span>
                        {h.pinnedFingerprint ? (
                          <div className="fingerprint small" title="pinned host key">
                            {h.pinnedFingerprint}
                          </div>
                        ) : null}
                      </td>
                      <td>
                        <HostHealthCell host={h} />
                      </td>
                      <td className="row-actions">
                        {h.status !== "trusted" ? (
                          !isAdmin ? null : h.seenFingerprint ? (
                            <button
                              type="button"
                              className="primary"
                              onClick={() => setTrusting({ host: h, fingerprint: h.seenFingerprint as string })}
                            >
                              Review key
                            </button>
                          ) : (
                            <button type="button" onClick={() => reprobe(h)} disabled={probe.isPending}>
                              Fetch key
                            </button>
                          )
                        ) : (
                          <Link className="button" href={`/hosts/${h.id}`}>
                            Inventory
                          </Link>
                        )}
                        {isAdmin ? (
                          <button
                            type="button"
                            className="ghost"
                            onClick={() => setRemoving(h)}
                            aria-label={`Remove ${h.name}`}
                          >
                            Remove
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
        {isAdmin ? <AddHostForm onAdded={onAdded} /> : null}
      </div>
      {trusting && isAdmin ? (
        <TrustDialog host={trusting.host} fingerprint={trusting.fingerprint} onClose={() => setTrusting(null)} />
      ) : null}
      {removing && isAdmin ? (
        <ConfirmDialog
          open
          title={`Remove ${removing.name}?`}
          confirmLabel="Remove host"
          danger
          busy={del.isPending}
          error={del.isError ? errorText(del.error) : null}
          onCancel={() => {
            del.reset();
            setRemoving(null);
          }}
          onConfirm={() => del.mutate(removing.id, { onSuccess: () => setRemoving(null) })}
        >
          <p>Blockferry forgets the host and its key. Nothing on the host changes.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

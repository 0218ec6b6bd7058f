import { useState } from "react";
import { NotFound } from "../../components/NotFound.tsx";
import { ErrorState, Loading } from "../../components/QueryState.tsx";
import { titled, usePageTitle } from "../../lib/page-title.ts";
import { Link, useLocation } from "../../lib/router.tsx";
import { useCan } from "../session/session-store.ts";
import { useHosts, useInventory } from "./api.ts";
import { HostHealthCell, KeyChangedBanner } from "./HostsPage.tsx";
import { InventoryView } from "./InventoryView.tsx";
import { MigrationAddressField } from "./MigrationAddressField.tsx";
import { TrustDialog } from "./TrustDialog.tsx";

export function HostDetailPage({ id }: { id: number }) {
  const hosts = useHosts();
  const host = hosts.data?.find((h) => h.id === id);
  const inventory = useInventory(host?.status === "trusted" ? id : undefined);
  const [trusting, setTrusting] = useState(false);
  const isAdmin = useCan("admin");
  const { search } = useLocation();
  usePageTitle(titled(host ? `${host.name} — Hosts` : "Hosts"));
  if (hosts.isPending) return <Loading what="host" />;
  if (hosts.isError) return <ErrorState error={hosts.error} retry={() => void hosts.refetch()} />;
  if (!host) return <NotFound back={{ href: "/hosts", label: "Back to hosts" }}>There is no host #{id}.</NotFound>;
  return (
    <section aria-labelledby="host-title">
      <p className="crumbs">
        <Link href="/hosts">← Hosts</Link>
      </p>
      <div className="page-head">
        <h2 id="host-title">{host.name}</h2>
        <span>
          {host.username}@{host.address}:{host.port} · <HostHealthCell host={host} />
        </span>
      </div>
      <MigrationAddressField host={host} canEdit={isAdmin} startEditing={search.get("edit") === "migration-address"} />
      <KeyChangedBanner hosts={[host]} />
      {host.status !== "trusted" ? (
        <div className="banner warning" role="status">
          This host's key is not trusted, so Blockferry runs nothing on it.{" "}
          {host.seenFingerprint && isAdmin ? (
            <button type="button" className="primary" onClick={() => setTrusting(true)}>
              Review key
            </button>
          ) : null}
        </div>
      ) : inventory.isPending ? (
        <Loading what="inventory" />
      ) : inventory.isError ? (
        <ErrorState error={inventory.error} retry={() => void inventory.refetch()} />
      ) : (
        <>
          <button type="button" onClick={() => void inventory.refetch()} disabled={inventory.isFetching}>
            {inventory.isFetching ? "Refreshing…" : "Refresh inventory"}
          </button>
          <InventoryView inventory={inventory.data} />
        </>
      )}
      {trusting && isAdmin && host.seenFingerprint ? (
        <TrustDialog host={host} fingerprint={host.seenFingerprint} onClose={() => setTrusting(false)} />
      ) : null}
    </section>
  );
}

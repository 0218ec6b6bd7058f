import type { Host } from "@blockferry/contracts";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { errorText } from "../../lib/api.ts";
import { useTrustHost } from "./api.ts";

/** Pins the fingerprint the host presented, after the operator has compared it with the host's own. */
export function TrustDialog({ host, fingerprint, onClose }: { host: Host; fingerprint: string; onClose(): void }) {
  const trust = useTrustHost();
  const replacing = host.pinnedFingerprint !== null && host.pinnedFingerprint !== fingerprint;
  return (
    <ConfirmDialog
      open
      title={replacing ? `Replace the pinned key of ${host.name}?` : `Trust ${host.name}?`}
      confirmLabel={replacing ? "Pin the new key" : "Trust this key"}
      danger={replacing}
      busy={trust.isPending}
      error={trust.isError ? errorText(trust.error) : null}
      onCancel={onClose}
      onConfirm={() => trust.mutate({ id: host.id, fingerprint }, { onSuccess: onClose })}
    >
      <p>
        {host.username}@{host.address}:{host.port} presented this host key:
      </p>
      <p className="fingerprint" data-testid="presented-fingerprint">
        {fingerprint}
      </p>
      {replacing ? (
        <p className="warning">
          The pinned key was <span className="fingerprint">{host.pinnedFingerprint}</span>. A changed key can mean the
          host was reinstalled, or that someone is in the middle. Pin the new key only if you know why it changed.
        </p>
      ) : null}
      <p className="muted">
        Compare it with the host's own: <code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code> on the host.
        Blockferry runs nothing on a host until you trust its key.
      </p>
    </ConfirmDialog>
  );
}

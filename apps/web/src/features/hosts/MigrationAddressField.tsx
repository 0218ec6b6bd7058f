import type { Host } from "@blockferry/contracts";
import { type FormEvent, useEffect, useRef, useState } from "react";
import { errorText } from "../../lib/api.ts";
import { effectiveMigrationAddress, useUpdateHost } from "./api.ts";

/** Element id of the field: a failed "direct path" precheck links here (`/hosts/:id?edit=migration-address`). */
export const MIGRATION_ADDRESS_FIELD = "host-migration-address";

/**
 * Where other hypervisors reach this host for a direct copy, as it is in effect; admins edit it in place (empty
 * clears it: back to the address the server uses). The server says what is wrong with a bad one.
 */
export function MigrationAddressField({
  host,
  canEdit,
  startEditing = false,
}: {
  host: Host;
  canEdit: boolean;
  startEditing?: boolean;
}) {
  const update = useUpdateHost();
  const [editing, setEditing] = useState(startEditing && canEdit);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (editing) input.current?.focus();
  }, [editing]);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const text = String(new FormData(e.currentTarget).get("migrationAddress") ?? "").trim();
    update.mutate({ id: host.id, migrationAddress: text || null }, { onSuccess: () => setEditing(false) });
  };
  return (
    <div className="migration-address" data-testid="migration-address">
      <span className="inline-label">Migration address</span>{" "}
      {editing ? (
        <form className="inline-form" onSubmit={submit} aria-label="Migration address">
          <input
            ref={input}
            id={MIGRATION_ADDRESS_FIELD}
            name="migrationAddress"
            defaultValue={host.migrationAddress ?? ""}
            maxLength={261}
            placeholder={`${effectiveMigrationAddress({ ...host, migrationAddress: null })} (its address)`}
            aria-describedby="migration-address-help"
          />
          <button type="submit" className="primary" disabled={update.isPending}>
            {update.isPending ? "Saving…" : "Save"}
          </button>
          <button type="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
          <span id="migration-address-help" className="muted small">
            host[:port] or [IPv6]:port where the other hypervisors reach {host.name}; empty: its address
          </span>
          {update.isError ? (
            <span className="error small" role="alert">
              {errorText(update.error)}
            </span>
          ) : null}
        </form>
      ) : (
        <>
          <code data-testid="migration-address-value">{effectiveMigrationAddress(host)}</code>
          {host.migrationAddress ? null : <span className="muted small"> (its address)</span>}{" "}
          {canEdit ? (
            <button type="button" onClick={() => setEditing(true)}>
              Edit
            </button>
          ) : null}
        </>
      )}
    </div>
  );
}

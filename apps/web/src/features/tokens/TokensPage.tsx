import type { ApiToken, Role } from "@blockferry/contracts";
import { type FormEvent, useState } from "react";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { RoleSelect } from "../../components/RoleSelect.tsx";
import { Table } from "../../components/Table.tsx";
import { errorText } from "../../lib/api.ts";
import { formatTime } from "../../lib/format.ts";
import { useCreateToken, useRevokeToken, useTokens } from "./api.ts";

/** The new secret, shown once: it lives in this component's state only until the admin dismisses it. */
function NewSecret({ name, token, onDone }: { name: string; token: string; onDone(): void }) {
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);
  const copy = () =>
    navigator.clipboard
      .writeText(token)
      .then(() => setCopied("yes"))
      .catch(() => setCopied("failed"));
  return (
    <div className="banner warning new-secret" role="status" aria-label="New API token">
      <p>
        <strong>Token “{name}” created.</strong> Copy it now: <strong>you will not see it again</strong>. The server
        keeps only its hash.
      </p>
      <p className="fingerprint" data-testid="new-token-secret">
        {token}
      </p>
      <div className="actions">
        <button type="button" className="primary" onClick={() => void copy()}>
          {copied === "yes" ? "Copied" : "Copy token"}
        </button>
        <button type="button" onClick={onDone}>
          I have stored it
        </button>
        {copied === "failed" ? <span className="bad">Copying failed: select the text and copy it.</span> : null}
      </div>
      <p className="muted small">
        Use it as <code>Authorization: Bearer …</code> or with the CLI's <code>--token</code>.
      </p>
    </div>
  );
}

function CreateTokenForm({ onCreated }: { onCreated(name: string, token: string): void }) {
  const create = useCreateToken();
  const [role, setRole] = useState<Role>("viewer");
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name") ?? "").trim();
    create.mutate(
      { name, role },
      {
        onSuccess: (r) => {
          form.reset();
          setRole("viewer");
          onCreated(r.apiToken.name, r.token);
        },
      },
    );
  };
  return (
    <form className="card form-grid" onSubmit={submit} aria-label="Create API token">
      <h3>Create a token</h3>
      <label className="span-2">
        Name
        <input name="name" required maxLength={64} pattern="[A-Za-z0-9][A-Za-z0-9 ._\-]*" placeholder="ci-deploy" />
      </label>
      <label className="span-2">
        Role
        <RoleSelect value={role} onChange={setRole} />
        <span className="muted small">A token never does more than the user who made it.</span>
      </label>
      {create.isError ? (
        <p className="error span-2" role="alert">
          {errorText(create.error)}
        </p>
      ) : null}
      <div className="actions span-2">
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}

export function TokensPage() {
  const tokens = useTokens();
  const revoke = useRevokeToken();
  const [secret, setSecret] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  return (
    <section aria-labelledby="tokens-title">
      <h2 id="tokens-title">API tokens</h2>
      {secret ? <NewSecret {...secret} onDone={() => setSecret(null)} /> : null}
      <div className="two-col">
        <div>
          {tokens.isPending ? (
            <Loading what="tokens" />
          ) : tokens.isError ? (
            <ErrorState error={tokens.error} retry={() => void tokens.refetch()} />
          ) : tokens.data.length === 0 ? (
            <Empty>No API tokens. The CLI and automation use one each.</Empty>
          ) : (
            <Table label="API tokens" columns={["Name", "Role", "Created by", "Created", "Last used", "Actions"]}>
              {tokens.data.map((t) => (
                <tr key={t.id} data-testid={`token-row-${t.name}`}>
                  <th scope="row">{t.name}</th>
                  <td>{t.role}</td>
                  <td>{t.createdBy}</td>
                  <td>{formatTime(t.createdAt)}</td>
                  <td>{t.lastUsedAt ? formatTime(t.lastUsedAt) : <span className="muted">never</span>}</td>
                  <td className="row-actions">
                    <button
                      type="button"
                      className="ghost"
                      aria-label={`Revoke ${t.name}`}
                      onClick={() => setRevoking(t)}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </div>
        <CreateTokenForm onCreated={(name, token) => setSecret({ name, token })} />
      </div>
      {revoking ? (
        <ConfirmDialog
          open
          title={`Revoke ${revoking.name}?`}
          confirmLabel="Revoke token"
          danger
          busy={revoke.isPending}
          error={revoke.isError ? errorText(revoke.error) : null}
          onCancel={() => {
            revoke.reset();
            setRevoking(null);
          }}
          onConfirm={() => revoke.mutate(revoking.id, { onSuccess: () => setRevoking(null) })}
        >
          <p>Whatever uses this token is refused from its next request on.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

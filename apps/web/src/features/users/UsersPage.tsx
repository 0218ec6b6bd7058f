import type { Role, User } from "@blockferry/contracts";
import { type FormEvent, useState } from "react";
import { ConfirmDialog } from "../../components/ConfirmDialog.tsx";
import { Empty, ErrorState, Loading } from "../../components/QueryState.tsx";
import { ROLE_HELP, RoleSelect } from "../../components/RoleSelect.tsx";
import { Table } from "../../components/Table.tsx";
import { errorText } from "../../lib/api.ts";
import { formatTime } from "../../lib/format.ts";
import { useSession } from "../session/session-store.ts";
import { useCreateUser, useRemoveUser, useUpdateUser, useUsers } from "./api.ts";

const MIN_PASSWORD = 10;
function AddUserForm() {
  const create = useCreateUser();
  const [role, setRole] = useState<Role>("viewer");
  const [problem, setProblem] = useState<string | null>(null);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    const password = String(f.get("password") ?? "");
    if (password.length < MIN_PASSWORD) {
      setProblem(`The password needs at least ${MIN_PASSWORD} characters.`);
      return;
    }
    setProblem(null);
    create.mutate(
      { username: String(f.get("username") ?? "").trim(), password, role },
      {
        onSuccess: () => {
          form.reset();
          setRole("viewer");
        },
      },
    );
  };
  return (
    <form className="card form-grid" onSubmit={submit} aria-label="Add user">
      <h3>Add a user</h3>
      <label className="span-2">
        Username
        <input name="username" required maxLength={64} pattern="[A-Za-z0-9][A-Za-z0-9._@\-]*" autoComplete="off" />
      </label>
      <label className="span-2">
        Password
        <input name="password" type="password" required autoComplete="new-password" />
      </label>
      <label className="span-2">
        Role
        <RoleSelect value={role} onChange={setRole} />
        <span className="muted small">{ROLE_HELP[role]}</span>
      </label>
      {problem || create.isError ? (
        <p className="error span-2" role="alert">
          {problem ?? errorText(create.error)}
        </p>
      ) : null}
      <div className="actions span-2">
        <button type="submit" className="primary" disabled={create.isPending}>
          {create.isPending ? "Adding…" : "Add user"}
        </button>
      </div>
    </form>
  );
}

type Asking =
  | { kind: "remove"; user: User }
  | { kind: "password"; user: User }
  | { kind: "role"; user: User; role: Role };

export function UsersPage() {
  const users = useUsers();
  const me = useSession()?.user;
  const update = useUpdateUser();
  const remove = useRemoveUser();
  const [asking, setAsking] = useState<Asking | null>(null);
  const [password, setPassword] = useState("");
  const close = () => {
    update.reset();
    remove.reset();
    setPassword("");
    setAsking(null);
  };
  const busy = update.isPending || remove.isPending;
  const error = update.isError ? errorText(update.error) : remove.isError ? errorText(remove.error) : null;

  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <div className="two-col">
        <div>
          {users.isPending ? (
            <Loading what="users" />
          ) : users.isError ? (
            <ErrorState error={users.error} retry={() => void users.refetch()} />
          ) : users.data.length === 0 ? (
            <Empty>No users.</Empty>
          ) : (
            <Table label="Users" columns={["Username", "Role", "Created", "Actions"]}>
              {users.data.map((u) => (
                <tr key={u.id} data-testid={`user-row-${u.username}`}>
                  <th scope="row">
                    {u.username}
                    {u.id === me?.id ? <span className="muted small"> (you)</span> : null}
                  </th>
                  <td>
                    <RoleSelect
                      label={`Role of ${u.username}`}
                      value={u.role}
                      onChange={(role) => setAsking({ kind: "role", user: u, role })}
                    />
                  </td>
                  <td>{formatTime(u.createdAt)}</td>
                  <td className="row-actions">
                    <button type="button" onClick={() => setAsking({ kind: "password", user: u })}>
                      Reset password…
                    </button>
                    <button
                      type="button"
                      className="ghost"
                      aria-label={`Remove ${u.username}`}
                      onClick={() => setAsking({ kind: "remove", user: u })}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </div>
        <AddUserForm />
      </div>
      {asking?.kind === "role" ? (
        <ConfirmDialog
          open
          title={`Make ${asking.user.username} ${asking.role === "admin" || asking.role === "operator" ? "an" : "a"} ${asking.role}?`}
          confirmLabel="Change role"
          busy={busy}
          error={error}
          onCancel={close}
          onConfirm={() => update.mutate({ id: asking.user.id, role: asking.role }, { onSuccess: close })}
        >
          <p>
            A {asking.role} {ROLE_HELP[asking.role]}. The change applies to their next request.
          </p>
        </ConfirmDialog>
      ) : null}
      {asking?.kind === "password" ? (
        <ConfirmDialog
          open
          title={`New password for ${asking.user.username}`}
          confirmLabel="Set password"
          busy={busy}
          error={
            password.length > 0 && password.length < MIN_PASSWORD
              ? `The password needs at least ${MIN_PASSWORD} characters.`
              : error
          }
          onCancel={close}
          onConfirm={() => {
            if (password.length < MIN_PASSWORD) return;
            update.mutate({ id: asking.user.id, password }, { onSuccess: close });
          }}
        >
          <label>
            New password
            <input
              type="password"
              autoComplete="new-password"
              minLength={MIN_PASSWORD}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          <p className="muted small">Their open sessions end; they log in again with the new password.</p>
        </ConfirmDialog>
      ) : null}
      {asking?.kind === "remove" ? (
        <ConfirmDialog
          open
          title={`Remove ${asking.user.username}?`}
          confirmLabel="Remove user"
          danger
          busy={busy}
          error={error}
          onCancel={close}
          onConfirm={() => remove.mutate(asking.user.id, { onSuccess: close })}
        >
          <p>Their sessions end and their API tokens stop working at once.</p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

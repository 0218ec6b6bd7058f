import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { errorText } from "../../lib/api.ts";
import { createFirstAdmin } from "./api.ts";

const MIN_PASSWORD = 10;

/** The token from the link the server printed (`/setup#token=…`); the fragment never reaches the server's logs. */
function tokenFromHash(): string {
  return new URLSearchParams(window.location.hash.slice(1)).get("token") ?? "";
}

/** First run: the one-time setup token creates the first admin, who is then logged in. */
export function SetupPage() {
  const [fromLink] = useState(tokenFromHash);
  const [token, setToken] = useState(fromLink);
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [touched, setTouched] = useState(false);
  const mutation = useMutation({ mutationFn: createFirstAdmin });

  const problem =
    password.length < MIN_PASSWORD
      ? `The password needs at least ${MIN_PASSWORD} characters (a few words make a good one).`
      : password !== confirm
        ? "The two passwords differ."
        : null;

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setTouched(true);
    if (problem) return;
    const f = new FormData(e.currentTarget);
    mutation.mutate({ setupToken: token.trim(), username: String(f.get("username") ?? "").trim(), password });
  };

  return (
    <section className="auth-page" aria-labelledby="setup-title">
      <form className="card form-grid auth-form" onSubmit={submit}>
        <h2 id="setup-title" className="span-2">
          Create the first admin
        </h2>
        <p className="muted span-2">
          No account exists yet. This account manages hosts, users and API tokens; add others once you are in.
        </p>
        {fromLink ? (
          <p className="span-2 good">Setup token taken from the link the server printed.</p>
        ) : (
          <label className="span-2">
            Setup token
            <input
              name="setupToken"
              required
              value={token}
              onChange={(e) => setToken(e.target.value)}
              autoComplete="off"
              spellCheck={false}
            />
            <span className="muted small">The server prints a link with it when it starts with no account.</span>
          </label>
        )}
        <label className="span-2">
          Username
          <input
            name="username"
            required
            maxLength={64}
            pattern="[A-Za-z0-9][A-Za-z0-9._@\-]*"
            autoComplete="username"
            defaultValue="admin"
          />
        </label>
        <label>
          Password
          <input
            type="password"
            required
            maxLength={1024}
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={touched && problem !== null}
          />
        </label>
        <label>
          Confirm password
          <input
            type="password"
            required
            maxLength={1024}
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            aria-invalid={touched && problem !== null}
          />
        </label>
        {touched && problem ? (
          <p className="error span-2" role="alert">
            {problem}
          </p>
        ) : mutation.isError ? (
          <p className="error span-2" role="alert">
            {errorText(mutation.error)}
          </p>
        ) : null}
        <div className="actions span-2">
          <button type="submit" className="primary" disabled={mutation.isPending}>
            {mutation.isPending ? "Creating…" : "Create admin and log in"}
          </button>
        </div>
      </form>
    </section>
  );
}

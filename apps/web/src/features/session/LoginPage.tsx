import { useMutation } from "@tanstack/react-query";
import { type FormEvent, useId } from "react";
import { errorText } from "../../lib/api.ts";
import { login } from "./api.ts";

export function LoginPage({ ended }: { ended: boolean }) {
  const mutation = useMutation({ mutationFn: login });
  const errorId = useId();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    mutation.mutate({ username: String(f.get("username") ?? "").trim(), password: String(f.get("password") ?? "") });
  };
  return (
    <section className="auth-page" aria-labelledby="login-title">
      <form className="card form-grid auth-form" onSubmit={submit} aria-describedby={errorId}>
        <h2 id="login-title" className="span-2">
          Log in
        </h2>
        {ended ? (
          <p className="banner info span-2" role="status">
            Your session has ended. Log in again to carry on where you were.
          </p>
        ) : null}
        <label className="span-2">
          Username
          <input name="username" autoComplete="username" required maxLength={64} />
        </label>
        <label className="span-2">
          Password
          <input name="password" type="password" autoComplete="current-password" required maxLength={1024} />
        </label>
        <div id={errorId} className="span-2">
          {mutation.isError ? (
            <p className="error" role="alert">
              {errorText(mutation.error)}
            </p>
          ) : null}
        </div>
        <div className="actions span-2">
          <button type="submit" className="primary" disabled={mutation.isPending}>
            {mutation.isPending ? "Logging in…" : "Log in"}
          </button>
        </div>
      </form>
    </section>
  );
}

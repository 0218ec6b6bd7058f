import { useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useEffect } from "react";
import { ErrorState, Loading } from "../../components/QueryState.tsx";
import { onUnauthorized } from "../../lib/api.ts";
import { navigate, useLocation } from "../../lib/router.tsx";
import { checkSession } from "./api.ts";
import { LoginPage } from "./LoginPage.tsx";
import { SetupPage } from "./SetupPage.tsx";
import { SESSION_PATHS, safeNext, sessionStore, useSessionState } from "./session-store.ts";

/**
 * Renders `children` (the app's pages) only for a signed-in user. Otherwise the login or first-run setup page, with
 * the wanted path kept in `?next=` so that logging in returns there. A 401 from any request ends the session here.
 */
export function SessionGate({ children }: { children: ReactNode }) {
  const state = useSessionState();
  const { pathname, search } = useLocation();
  const query = search.toString();
  const qc = useQueryClient();

  useEffect(() => {
    void checkSession();
  }, []);

  useEffect(
    () =>
      onUnauthorized(() => {
        if (sessionStore.get().status !== "signed-in") return;
        sessionStore.set({ status: "anonymous", setupNeeded: false, ended: true });
        // Nothing another user (or this one, later) should see is kept.
        qc.clear();
      }),
    [qc],
  );

  // The URL follows the state: a session page while anonymous, the wanted page once signed in.
  const want =
    state.status === "anonymous"
      ? state.setupNeeded
        ? "/setup"
        : "/login"
      : state.status === "signed-in" && SESSION_PATHS.has(pathname)
        ? safeNext(search.get("next"))
        : null;
  useEffect(() => {
    if (!want || want === pathname) return;
    if (state.status === "anonymous") {
      const here = SESSION_PATHS.has(pathname)
        ? new URLSearchParams(query).get("next")
        : `${pathname}${query ? `?${query}` : ""}`;
      const next = here && here !== "/" ? `?next=${encodeURIComponent(here)}` : "";
      navigate(`${want}${next}`, { replace: true });
    } else navigate(want, { replace: true });
  }, [want, pathname, query, state.status]);

  if (state.status === "checking") return <Loading what="your session" />;
  if (state.status === "unreachable") return <ErrorState error={state.error} retry={() => void checkSession()} />;
  if (state.status === "anonymous") {
    if (pathname === "/setup" && state.setupNeeded) return <SetupPage />;
    if (pathname === "/login" && !state.setupNeeded) return <LoginPage ended={state.ended} />;
    return null;
  }
  if (SESSION_PATHS.has(pathname)) return null;
  return <>{children}</>;
}

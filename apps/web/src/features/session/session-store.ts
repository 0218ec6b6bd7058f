import { type Role, roleAllows, type Session } from "@blockferry/contracts";
import { useSyncExternalStore } from "react";
import { setCsrfToken } from "../../lib/api.ts";

/**
 * Who is using the dashboard. Nothing but the session pages renders until the state is known, so a page never
 * flashes 401 errors. `ended` says an open session stopped answering (expired, revoked, logged out elsewhere).
 */
export type SessionState =
  | { status: "checking" }
  | { status: "unreachable"; error: unknown }
  | { status: "anonymous"; setupNeeded: boolean; ended: boolean }
  | { status: "signed-in"; session: Session };

let state: SessionState = { status: "checking" };
const listeners = new Set<() => void>();

export const sessionStore = {
  get: (): SessionState => state,
  set(next: SessionState): void {
    state = next;
    setCsrfToken(next.status === "signed-in" ? next.session.csrfToken : undefined);
    for (const l of listeners) l();
  },
  subscribe(listener: () => void): () => void {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  },
};

export const useSessionState = (): SessionState => useSyncExternalStore(sessionStore.subscribe, sessionStore.get);

/** The session of a signed-in page (pages render only when signed in). */
export function useSession(): Session | null {
  const s = useSessionState();
  return s.status === "signed-in" ? s.session : null;
}

/** Whether the signed-in user's role includes `need`: actions the server would refuse are not shown. */
export function useCan(need: Role): boolean {
  const session = useSession();
  return session !== null && roleAllows(session.user.role, need);
}

/** Paths the session pages themselves live at: never a place to go back to. */
export const SESSION_PATHS = new Set(["/login", "/setup"]);

/**
 * Where to go after logging in: `next` when it is a path on this origin outside the session pages, else the
 * migrations list. Anything else (another origin, `//evil`, `javascript:`) is ignored.
 */
export function safeNext(next: string | null | undefined): string {
  if (!next?.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/jobs";
  let url: URL;
  try {
    url = new URL(next, window.location.origin);
  } catch {
    return "/jobs";
  }
  if (url.origin !== window.location.origin || SESSION_PATHS.has(url.pathname)) return "/jobs";
  return url.pathname + url.search;
}

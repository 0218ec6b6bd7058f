import type { FirstAdmin, Login, Session, SetupStatus } from "@blockferry/contracts";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, apiFetch } from "../../lib/api.ts";
import { sessionStore } from "./session-store.ts";

/**
 * The session check at load: the current session, or whether the first admin still has to be created.
 * Only a network failure leaves the state unknown.
 */
export async function checkSession(): Promise<void> {
  try {
    const session = await apiFetch<Session>("/api/session", { anonymous: true });
    sessionStore.set({ status: "signed-in", session });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      sessionStore.set({ status: "unreachable", error: err });
      return;
    }
    try {
      const setup = await apiFetch<SetupStatus>("/api/setup", { anonymous: true });
      sessionStore.set({ status: "anonymous", setupNeeded: setup.needed, ended: false });
    } catch (e) {
      sessionStore.set({ status: "unreachable", error: e });
    }
  }
}

export async function login(body: Login): Promise<void> {
  const session = await apiFetch<Session>("/api/session", { method: "POST", body, anonymous: true });
  sessionStore.set({ status: "signed-in", session });
}

export async function createFirstAdmin(body: FirstAdmin): Promise<void> {
  const session = await apiFetch<Session>("/api/setup", { method: "POST", body, anonymous: true });
  sessionStore.set({ status: "signed-in", session });
}

/** Ends the session on the server, then forgets everything cached for this user. */
export function useLogout(): () => Promise<void> {
  const qc = useQueryClient();
  return async () => {
    try {
      await apiFetch<null>("/api/session", { method: "DELETE", anonymous: true });
    } finally {
      sessionStore.set({ status: "anonymous", setupNeeded: false, ended: false });
      qc.clear();
    }
  };
}

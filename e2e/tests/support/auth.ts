import { randomBytes } from "node:crypto";
import type { User } from "@blockferry/contracts";
import { type Auth, createAuditRepo, createAuth, loadConfig, openDb } from "@blockferry/server";

/** The admin every lab test acts as; its password is random and never used (tests send an API token). */
export const E2E_ADMIN = "e2e-admin";

async function e2eAdmin(auth: Auth): Promise<User> {
  return (
    auth.accounts.byName(E2E_ADMIN) ??
    auth.accounts.create(
      { username: E2E_ADMIN, password: randomBytes(24).toString("base64url"), role: "admin" },
      { name: "e2e" },
    )
  );
}

/** An admin API token, minted through the server's own auth (as `blockferry login` would get one). */
export async function adminToken(auth: Auth): Promise<string> {
  const user = await e2eAdmin(auth);
  const owner = { userId: user.id, username: user.username, role: user.role, via: "session" as const };
  return auth.tokens.create({ name: "e2e", role: "admin" }, owner, { name: "e2e" }).token;
}

/** A session for the e2e admin, for a browser: its cookie value and the CSRF token unsafe requests echo. */
export async function adminSession(auth: Auth): Promise<{ token: string; csrfToken: string }> {
  return auth.sessions.openFor((await e2eAdmin(auth)).id, null);
}

/**
 * An admin token in a data dir no server has open yet (or whose server was killed): the database is opened,
 * migrated if new, and closed again, as `blockferry users add` does offline.
 */
export async function adminTokenOffline(dataDir: string): Promise<string> {
  const db = openDb(loadConfig(["--data-dir", dataDir], {}).dbFile);
  try {
    return await adminToken(createAuth(db, createAuditRepo(db)));
  } finally {
    db.$client.close();
  }
}

/** Headers for a raw fetch to the API with `token`: the credential, and JSON for anything that changes state. */
export function authHeaders(token: string, method = "GET"): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    ...(method === "GET" || method === "HEAD" ? {} : { "content-type": "application/json" }),
  };
}

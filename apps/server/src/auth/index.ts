import type { Db } from "../db/open.ts";
import { createApiTokensRepo } from "../db/repositories/api-tokens.ts";
import type { AuditRepo } from "../db/repositories/audit.ts";
import { createSessionsRepo } from "../db/repositories/sessions.ts";
import { createUsersRepo } from "../db/repositories/users.ts";
import { createAccounts } from "./accounts.ts";
import { createApiTokens } from "./api-tokens.ts";
import { createFirstRun } from "./first-run.ts";
import { createSessions, type SessionPolicy } from "./sessions.ts";

/** Accounts, sessions, API tokens and first-run setup over one database. */
export function createAuth(db: Db, audit: AuditRepo, opts: { sessionPolicy?: SessionPolicy } = {}) {
  const users = createUsersRepo(db);
  const sessionsRepo = createSessionsRepo(db);
  const accounts = createAccounts({ users, sessions: sessionsRepo, audit });
  const sessions = createSessions({ users, sessions: sessionsRepo, audit, policy: opts.sessionPolicy });
  const tokens = createApiTokens({ tokens: createApiTokensRepo(db), audit });
  const firstRun = createFirstRun({ accounts, sessions });
  return { accounts, sessions, tokens, firstRun };
}
export type Auth = ReturnType<typeof createAuth>;

/** Host names a local server answers to before any --public-url is given. */
export const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"] as const;

/** The Host allow-list and extra origins for a server bound to `bindHost` and served under `publicUrl`. */
export function servedNames(bindHost: string, publicUrl?: string): { hosts: Set<string>; origins: Set<string> } {
  const hosts = new Set<string>(LOOPBACK_NAMES);
  // A specific bind address is a name the server is reached by; the wildcard ones are not names at all.
  if (!["0.0.0.0", "::", ""].includes(bindHost)) hosts.add(bindHost.toLowerCase());
  const origins = new Set<string>();
  if (publicUrl) {
    const url = new URL(publicUrl);
    hosts.add(url.hostname.replace(/^\[|\]$/g, "").toLowerCase());
    origins.add(url.origin);
  }
  return { hosts, origins };
}

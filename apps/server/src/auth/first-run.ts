import type { Session } from "@blockferry/contracts";
import type { Actor } from "../db/repositories/audit.ts";
import { ConflictError, ForbiddenError } from "../errors.ts";
import type { Accounts } from "./accounts.ts";
import { randomToken, sameSecret } from "./secrets.ts";
import type { Sessions } from "./sessions.ts";

/**
 * While no account exists, a random setup token (printed to the server log at start) lets the first visitor who
 * has it create the first admin. It lives only in memory: a restart prints a new one.
 */
export function createFirstRun(d: { accounts: Accounts; sessions: Sessions }) {
  let token: string | undefined;
  return {
    needed: (): boolean => d.accounts.count() === 0,
    /** The token to print, or undefined when accounts exist. */
    token(): string | undefined {
      if (d.accounts.count() > 0) return undefined;
      token ??= randomToken();
      return token;
    },
    async createAdmin(
      input: { setupToken: string; username: string; password: string },
      actor: Actor,
    ): Promise<{ token: string; session: Session }> {
      if (d.accounts.count() > 0) throw new ConflictError("setup is done: log in instead");
      if (!token || !sameSecret(token, input.setupToken))
        throw new ForbiddenError("wrong setup token: use the link the server printed at start", "SETUP_TOKEN_INVALID");
      // Spent before the (slow) hashing, so that two racing requests cannot both create an admin.
      const spent = token;
      token = undefined;
      const user = await d.accounts
        .create(
          { username: input.username, password: input.password, role: "admin" },
          { ...actor, name: input.username },
        )
        .catch((err: unknown) => {
          token = spent;
          throw err;
        });
      const s = d.sessions.openFor(user.id, actor.address ?? null);
      return { token: s.token, session: { user, csrfToken: s.csrfToken, expiresAt: s.expiresAt } };
    },
  };
}
export type FirstRun = ReturnType<typeof createFirstRun>;

import type { Session } from "@blockferry/contracts";
import type { Actor, AuditRepo } from "../db/repositories/audit.ts";
import type { SessionsRepo } from "../db/repositories/sessions.ts";
import type { UsersRepo } from "../db/repositories/users.ts";
import { TooManyRequestsError, UnauthenticatedError } from "../errors.ts";
import { LoginThrottle } from "./login-throttle.ts";
import { verifyPassword } from "./passwords.ts";
import type { Principal } from "./principal.ts";
import { randomToken, tokenHash } from "./secrets.ts";

export interface SessionPolicy {
  /** A session unused this long ends. */
  idleMs: number;
  /** A session ends this long after login, however busy. */
  maxMs: number;
}
export const DEFAULT_SESSION_POLICY: SessionPolicy = { idleMs: 2 * 3600_000, maxMs: 12 * 3600_000 };

/** lastSeenAt is written at most this often (a tenth of the idle time): a write per request would be waste. */
const touchEveryMs = (policy: SessionPolicy) => Math.min(60_000, policy.idleMs / 10);

export interface SessionDeps {
  users: UsersRepo;
  sessions: SessionsRepo;
  audit: AuditRepo;
  policy?: SessionPolicy;
  throttle?: LoginThrottle;
  now?: () => number;
}

/** Browser sessions: login (argon2id, throttled), the cookie's lookup with idle and absolute expiry, logout. */
export function createSessions(d: SessionDeps) {
  const policy = d.policy ?? DEFAULT_SESSION_POLICY;
  const throttle = d.throttle ?? new LoginThrottle();
  const now = d.now ?? Date.now;

  const open = (userId: number, address: string | null) => {
    const token = randomToken();
    const at = now();
    const row = {
      tokenHash: tokenHash(token),
      userId,
      csrfToken: randomToken(),
      lastSeenAt: at,
      expiresAt: at + policy.maxMs,
      address,
    };
    d.sessions.insert(row);
    return { token, csrfToken: row.csrfToken, expiresAt: new Date(row.expiresAt).toISOString() };
  };

  return {
    policy,
    /** One answer for an unknown user and a wrong password; a locked name answers 429 either way. */
    async login(username: string, password: string, actor: Actor): Promise<{ token: string; session: Session }> {
      const wait = throttle.retryAfterMs(username);
      if (wait > 0) {
        d.audit.record(actor, "login.throttled", `user:${username}`);
        throw new TooManyRequestsError("too many failed logins; try again later", Math.ceil(wait / 1000));
      }
      const user = d.users.byName(username);
      const ok = await verifyPassword(user?.passwordHash, password);
      if (!user || !ok) {
        throttle.failed(username);
        d.audit.record(actor, "login.failed", `user:${username}`);
        throw new UnauthenticatedError("wrong username or password");
      }
      throttle.succeeded(username);
      const s = open(user.id, actor.address ?? null);
      d.audit.record({ ...actor, name: user.username }, "login", `user:${user.username}`);
      const { id, role, createdAt } = user;
      return {
        token: s.token,
        session: {
          user: { id, username: user.username, role, createdAt },
          csrfToken: s.csrfToken,
          expiresAt: s.expiresAt,
        },
      };
    },

    /** Opens a session for a user who just proved themselves another way (first-run setup). */
    openFor(userId: number, address: string | null) {
      return open(userId, address);
    },

    /** The principal a session cookie stands for; expired sessions are deleted on sight. */
    resolve(cookie: string): Principal | undefined {
      const hash = tokenHash(cookie);
      const found = d.sessions.find(hash);
      if (!found) return undefined;
      const at = now();
      const { session, user } = found;
      if (session.expiresAt <= at || session.lastSeenAt + policy.idleMs <= at) {
        d.sessions.remove(hash);
        return undefined;
      }
      if (at - session.lastSeenAt >= touchEveryMs(policy)) d.sessions.touch(hash, at);
      return {
        userId: user.id,
        username: user.username,
        role: user.role,
        via: "session",
        sessionHash: hash,
        csrfToken: session.csrfToken,
        session: {
          user: { id: user.id, username: user.username, role: user.role, createdAt: user.createdAt },
          csrfToken: session.csrfToken,
          expiresAt: new Date(session.expiresAt).toISOString(),
        },
      };
    },

    logout(sessionHash: string, actor: Actor): void {
      d.sessions.remove(sessionHash);
      d.audit.record(actor, "logout", `user:${actor.name}`);
    },

    prune(): number {
      const at = now();
      return d.sessions.prune(at, at - policy.idleMs);
    },
  };
}
export type Sessions = ReturnType<typeof createSessions>;

import type { Role, Session } from "@blockferry/contracts";
import type { Actor } from "../db/repositories/audit.ts";

/** Who a request acts for, as the auth guard established it. */
export interface Principal {
  userId: number;
  username: string;
  /** For a token: the lower of the token's role and its owner's current role. */
  role: Role;
  via: "session" | "token";
  /** Session only: the hash that names it (for logout) and the token unsafe requests must echo. */
  sessionHash?: string;
  csrfToken?: string;
  /** Session only: what GET /api/session answers. */
  session?: Session;
  tokenId?: number;
}

/** What a route demands: nothing (public) or at least a role. */
export type Access = "public" | Role;

export const actorOf = (p: Principal | undefined, address: string | null): Actor => ({
  name: p ? (p.via === "token" ? `${p.username} (token ${p.tokenId})` : p.username) : "anonymous",
  address,
});

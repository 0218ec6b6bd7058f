import { type ApiToken, type CreateApiToken, type CreatedApiToken, ROLES, roleAllows } from "@blockferry/contracts";
import type { ApiTokensRepo } from "../db/repositories/api-tokens.ts";
import type { Actor, AuditRepo } from "../db/repositories/audit.ts";
import { ForbiddenError, NotFoundError } from "../errors.ts";
import type { Principal } from "./principal.ts";
import { randomToken, tokenHash } from "./secrets.ts";

/** Recognisable in logs and secret scanners; the id lets a leaked token be found without its secret. */
const PREFIX = "bft_";

/** API tokens for the CLI and automation. */
export function createApiTokens(d: { tokens: ApiTokensRepo; audit: AuditRepo }) {
  return {
    list: (): ApiToken[] => d.tokens.list(),

    /** The secret is in the answer once; only its hash is kept. A token never outranks its maker. */
    create(input: CreateApiToken, owner: Principal, actor: Actor): CreatedApiToken {
      if (!roleAllows(owner.role, input.role))
        throw new ForbiddenError(`a ${owner.role} cannot make a token with role ${input.role}`);
      const token = `${PREFIX}${randomToken()}`;
      const id = d.tokens.insert({
        name: input.name,
        role: input.role,
        tokenHash: tokenHash(token),
        userId: owner.userId,
      });
      d.audit.record(actor, "token.create", `token:${id}`, { name: input.name, role: input.role });
      const apiToken = d.tokens.get(id);
      if (!apiToken) throw new NotFoundError("token", id);
      return { token, apiToken };
    },

    revoke(id: number, actor: Actor): void {
      const t = d.tokens.get(id);
      if (!t || !d.tokens.remove(id)) throw new NotFoundError("token", id);
      d.audit.record(actor, "token.revoke", `token:${id}`, { name: t.name });
    },

    /** The principal a bearer token stands for, or undefined (unknown or revoked, or its owner removed). */
    resolve(bearer: string): Principal | undefined {
      if (!bearer.startsWith(PREFIX)) return undefined;
      const found = d.tokens.find(tokenHash(bearer));
      if (!found) return undefined;
      const { token, user } = found;
      const at = new Date();
      // Minute resolution is plenty for "last used", and keeps busy clients from writing on every request.
      if (!token.lastUsedAt || at.getTime() - Date.parse(token.lastUsedAt) > 60_000)
        d.tokens.markUsed(token.id, at.toISOString());
      const role = ROLES[Math.min(ROLES.indexOf(token.role), ROLES.indexOf(user.role))] ?? "viewer";
      return { userId: user.id, username: user.username, role, via: "token", tokenId: token.id };
    },
  };
}
export type ApiTokens = ReturnType<typeof createApiTokens>;

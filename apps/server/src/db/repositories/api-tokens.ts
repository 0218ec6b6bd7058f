import type { ApiToken, Role } from "@blockferry/contracts";
import { asc, eq } from "drizzle-orm";
import type { Db } from "../open.ts";
import { apiTokens, users } from "../schema.ts";

export function createApiTokensRepo(db: Db) {
  const view = {
    id: apiTokens.id,
    name: apiTokens.name,
    role: apiTokens.role,
    createdBy: users.username,
    createdAt: apiTokens.createdAt,
    lastUsedAt: apiTokens.lastUsedAt,
  };
  return {
    insert(row: { name: string; role: Role; tokenHash: string; userId: number }): number {
      return db.insert(apiTokens).values(row).returning({ id: apiTokens.id }).get().id;
    },
    list(): ApiToken[] {
      return db
        .select(view)
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .orderBy(asc(apiTokens.id))
        .all();
    },
    get(id: number): ApiToken | undefined {
      return db
        .select(view)
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(eq(apiTokens.id, id))
        .get();
    },
    /** The token with the user it acts for, or undefined. */
    find(tokenHash: string) {
      return db
        .select({ token: apiTokens, user: users })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(eq(apiTokens.tokenHash, tokenHash))
        .get();
    },
    markUsed(id: number, at: string): void {
      db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)).run();
    },
    remove(id: number): boolean {
      return db.delete(apiTokens).where(eq(apiTokens.id, id)).run().changes > 0;
    },
  };
}
export type ApiTokensRepo = ReturnType<typeof createApiTokensRepo>;

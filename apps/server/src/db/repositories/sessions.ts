import { eq, lt, or } from "drizzle-orm";
import type { Db } from "../open.ts";
import { sessions, users } from "../schema.ts";

export type SessionRow = typeof sessions.$inferSelect;

export function createSessionsRepo(db: Db) {
  return {
    insert(row: typeof sessions.$inferInsert): void {
      db.insert(sessions).values(row).run();
    },
    /** The session with its user, or undefined. Expiry is the caller's decision. */
    find(tokenHash: string) {
      return db
        .select({ session: sessions, user: users })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(eq(sessions.tokenHash, tokenHash))
        .get();
    },
    touch(tokenHash: string, at: number): void {
      db.update(sessions).set({ lastSeenAt: at }).where(eq(sessions.tokenHash, tokenHash)).run();
    },
    remove(tokenHash: string): void {
      db.delete(sessions).where(eq(sessions.tokenHash, tokenHash)).run();
    },
    removeForUser(userId: number): void {
      db.delete(sessions).where(eq(sessions.userId, userId)).run();
    },
    /** Drops sessions idle since before `idleBefore` or past their absolute end. */
    prune(now: number, idleBefore: number): number {
      return db
        .delete(sessions)
        .where(or(lt(sessions.expiresAt, now), lt(sessions.lastSeenAt, idleBefore)))
        .run().changes;
    },
  };
}
export type SessionsRepo = ReturnType<typeof createSessionsRepo>;

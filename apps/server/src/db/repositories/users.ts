import type { Role, User } from "@blockferry/contracts";
import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../open.ts";
import { users } from "../schema.ts";

export interface UserRow extends User {
  passwordHash: string;
}

const toUser = (r: typeof users.$inferSelect): UserRow => ({
  id: r.id,
  username: r.username,
  role: r.role,
  createdAt: r.createdAt,
  passwordHash: r.passwordHash,
});

export function createUsersRepo(db: Db) {
  return {
    count(): number {
      return db.select({ n: sql<number>`count(*)` }).from(users).get()?.n ?? 0;
    },
    list(): User[] {
      return db
        .select()
        .from(users)
        .orderBy(asc(users.username))
        .all()
        .map(({ id, username, role, createdAt }) => ({ id, username, role, createdAt }));
    },
    byName(username: string): UserRow | undefined {
      const r = db.select().from(users).where(eq(users.username, username)).get();
      return r && toUser(r);
    },
    byId(id: number): UserRow | undefined {
      const r = db.select().from(users).where(eq(users.id, id)).get();
      return r && toUser(r);
    },
    /** Undefined when the name is taken. */
    insert(username: string, passwordHash: string, role: Role): UserRow | undefined {
      const r = db.insert(users).values({ username, passwordHash, role }).onConflictDoNothing().returning().get();
      return r && toUser(r);
    },
    /** Admins other than `exceptId`: the last admin may not be removed or demoted. */
    otherAdmins(exceptId: number): number {
      return (
        db
          .select({ n: sql<number>`count(*)` })
          .from(users)
          .where(sql`${users.role} = 'admin' and ${users.id} <> ${exceptId}`)
          .get()?.n ?? 0
      );
    },
    update(id: number, change: { passwordHash?: string; role?: Role }): void {
      db.update(users)
        .set({ ...change, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))` })
        .where(eq(users.id, id))
        .run();
    },
    /** Sessions and tokens go with the user (foreign keys cascade). */
    remove(id: number): boolean {
      return db.delete(users).where(eq(users.id, id)).run().changes > 0;
    },
  };
}
export type UsersRepo = ReturnType<typeof createUsersRepo>;

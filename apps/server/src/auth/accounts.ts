import type { CreateUser, Role, UpdateUser, User } from "@blockferry/contracts";
import { type Actor, type AuditRepo, SYSTEM } from "../db/repositories/audit.ts";
import type { SessionsRepo } from "../db/repositories/sessions.ts";
import type { UsersRepo } from "../db/repositories/users.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { hashPassword } from "./passwords.ts";

export interface AccountsDeps {
  users: UsersRepo;
  sessions: SessionsRepo;
  audit: AuditRepo;
}

/** User accounts: used by the API (admins) and offline by `blockferry users`. */
export function createAccounts(d: AccountsDeps) {
  const existing = (id: number) => {
    const row = d.users.byId(id);
    if (!row) throw new NotFoundError("user", id);
    return row;
  };
  const keepAnAdmin = (id: number, role: Role | undefined, what: string) => {
    if (existing(id).role === "admin" && role !== "admin" && d.users.otherAdmins(id) === 0)
      throw new ConflictError(`cannot ${what} the last admin; make another admin first`);
  };
  const view = ({ id, username, role, createdAt }: User): User => ({ id, username, role, createdAt });

  return {
    list: (): User[] => d.users.list(),
    count: (): number => d.users.count(),
    byName: (username: string): User | undefined => {
      const row = d.users.byName(username);
      return row && view(row);
    },

    async create(input: CreateUser, actor: Actor = SYSTEM): Promise<User> {
      const row = d.users.insert(input.username, await hashPassword(input.password), input.role);
      if (!row) throw new ConflictError(`a user named ${input.username} exists already`);
      d.audit.record(actor, "user.create", `user:${row.username}`, { role: row.role });
      return view(row);
    },

    /** A new password ends the user's sessions (tokens stay: they are revoked on their own). */
    async update(id: number, change: UpdateUser, actor: Actor = SYSTEM): Promise<User> {
      if (change.role !== undefined) keepAnAdmin(id, change.role, "demote");
      const passwordHash = change.password === undefined ? undefined : await hashPassword(change.password);
      d.users.update(id, { ...(passwordHash && { passwordHash }), ...(change.role && { role: change.role }) });
      if (passwordHash) d.sessions.removeForUser(id);
      const row = existing(id);
      d.audit.record(actor, "user.update", `user:${row.username}`, {
        ...(change.role && { role: change.role }),
        ...(passwordHash && { password: "changed" }),
      });
      return view(row);
    },

    /** Their sessions and tokens stop working at once (foreign keys cascade). */
    remove(id: number, actor: Actor = SYSTEM): void {
      keepAnAdmin(id, undefined, "remove");
      const row = existing(id);
      d.users.remove(id);
      d.audit.record(actor, "user.remove", `user:${row.username}`);
    },
  };
}
export type Accounts = ReturnType<typeof createAccounts>;

import type { AuditEntry } from "@blockferry/contracts";
import { desc, lt } from "drizzle-orm";
import type { Db } from "../open.ts";
import { auditLog } from "../schema.ts";

/** Who acted: a user (with the address the request came from) or the server itself. */
export interface Actor {
  name: string;
  address?: string | null;
}
export const SYSTEM: Actor = { name: "system" };

export function createAuditRepo(db: Db) {
  return {
    record(actor: Actor, action: string, subject: string, details?: unknown): void {
      db.insert(auditLog)
        .values({ actor: actor.name, address: actor.address ?? null, action, subject, details: details ?? null })
        .run();
    },
    /** Newest first; `before` is the id the previous page ended at. */
    page(opts: { before?: number; limit: number }): AuditEntry[] {
      return db
        .select()
        .from(auditLog)
        .where(opts.before === undefined ? undefined : lt(auditLog.id, opts.before))
        .orderBy(desc(auditLog.id))
        .limit(opts.limit)
        .all();
    },
  };
}
export type AuditRepo = ReturnType<typeof createAuditRepo>;

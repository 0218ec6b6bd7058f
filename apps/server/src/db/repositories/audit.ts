import { desc } from "drizzle-orm";
import type { Db } from "../open.ts";
import { auditLog } from "../schema.ts";

export function createAuditRepo(db: Db) {
  return {
    record(actor: string, action: string, subject: string, details?: unknown): void {
      db.insert(auditLog)
        .values({ actor, action, subject, details: details ?? null })
        .run();
    },
    recent(limit = 100) {
      return db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(limit).all();
    },
  };
}
export type AuditRepo = ReturnType<typeof createAuditRepo>;

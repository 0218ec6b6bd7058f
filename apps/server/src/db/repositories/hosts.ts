import type { Host } from "@blockferry/contracts";
import { asc, desc, eq, inArray, isNotNull, or } from "drizzle-orm";
import type { Db } from "../open.ts";
import { hosts, jobObjects, jobs } from "../schema.ts";

export type HostRow = typeof hosts.$inferSelect;
/** A job that names a host (source, target, or host of an object it created). */
export type JobUsingHost = { id: number; state: string };

/** The API view of a host: everything but the key material. */
export const toHost = (r: HostRow): Host => ({
  id: r.id,
  name: r.name,
  address: r.address,
  port: r.port,
  username: r.username,
  keySource: r.privateKey ? "pasted" : "file",
  privateKeyPath: r.privateKeyPath,
  status: r.status,
  pinnedFingerprint: r.pinnedFingerprint,
  seenFingerprint: r.seenFingerprint,
  maxConcurrency: r.maxConcurrency,
  migrationAddress: r.migrationAddress,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

const stamp = () => new Date().toISOString();

type RewriteKey = (stored: string, row: Pick<HostRow, "id" | "name">) => string | null;

export function createHostsRepo(db: Db) {
  const rewriteAll = (rewrite: RewriteKey): number =>
    db.transaction((tx) => {
      const rows = tx
        .select({ id: hosts.id, name: hosts.name, privateKey: hosts.privateKey })
        .from(hosts)
        .where(isNotNull(hosts.privateKey))
        .all();
      let changed = 0;
      for (const row of rows) {
        const next = row.privateKey === null ? null : rewrite(row.privateKey, row);
        if (next === null || next === row.privateKey) continue;
        tx.update(hosts).set({ privateKey: next }).where(eq(hosts.id, row.id)).run();
        changed++;
      }
      return changed;
    });
  return {
    list(): HostRow[] {
      return db.select().from(hosts).orderBy(asc(hosts.name)).all();
    },
    get(id: number): HostRow | undefined {
      return db.select().from(hosts).where(eq(hosts.id, id)).get();
    },
    getByName(name: string): HostRow | undefined {
      return db.select().from(hosts).where(eq(hosts.name, name)).get();
    },
    insert(values: typeof hosts.$inferInsert): HostRow {
      return db.insert(hosts).values(values).returning().get();
    },
    update(id: number, values: Partial<typeof hosts.$inferInsert>): HostRow | undefined {
      return db
        .update(hosts)
        .set({ ...values, updatedAt: stamp() })
        .where(eq(hosts.id, id))
        .returning()
        .get();
    },
    /**
     * Rewrites every stored pasted key as `rewrite` says (null: leave it), in one transaction: all rows or none.
     * `updatedAt` is left alone, since the host itself did not change. Returns how many rows were rewritten.
     */
    rewritePrivateKeys(rewrite: RewriteKey): number {
      // The values replaced may be keys in the clear: zero the space they leave, and empty the WAL after.
      const sqlite = db.$client;
      const secureDelete = sqlite.pragma("secure_delete", { simple: true });
      sqlite.pragma("secure_delete = ON");
      let changed: number;
      try {
        changed = rewriteAll(rewrite);
      } finally {
        sqlite.pragma(`secure_delete = ${secureDelete ? "ON" : "OFF"}`);
      }
      if (changed > 0) sqlite.pragma("wal_checkpoint(TRUNCATE)");
      return changed;
    },
    remove(id: number): boolean {
      return db.delete(hosts).where(eq(hosts.id, id)).run().changes > 0;
    },
    /**
     * Deletes the host unless `refuse` objects to the jobs that name it (newest first): it throws, and nothing is
     * deleted. Check and delete are one transaction, so no job can appear in between.
     */
    removeUnlessUsed(id: number, refuse: (using: JobUsingHost[]) => void): boolean {
      return db.transaction((tx) => {
        const objectsHere = tx.select({ jobId: jobObjects.jobId }).from(jobObjects).where(eq(jobObjects.hostId, id));
        const using = tx
          .select({ id: jobs.id, state: jobs.state })
          .from(jobs)
          .where(or(eq(jobs.sourceHostId, id), eq(jobs.targetHostId, id), inArray(jobs.id, objectsHere)))
          .orderBy(desc(jobs.id))
          .all();
        refuse(using);
        return tx.delete(hosts).where(eq(hosts.id, id)).run().changes > 0;
      });
    },
  };
}
export type HostsRepo = ReturnType<typeof createHostsRepo>;

import type { Webhook, WebhookDelivery, WebhookEvent } from "@blockferry/contracts";
import { and, asc, desc, eq, lte, sql } from "drizzle-orm";
import type { Db } from "../open.ts";
import { webhookDeliveries, webhooks } from "../schema.ts";

/** A webhook with its sealed secret: for the delivery worker only, never for a response. */
export interface WebhookTarget {
  id: number;
  url: string;
  events: WebhookEvent[];
  sealedSecret: string;
}

/** A delivery the worker is about to attempt. */
export interface DueDelivery {
  id: number;
  webhookId: number;
  event: WebhookEvent;
  body: string;
  attempts: number;
}

const publicView = {
  id: webhooks.id,
  url: webhooks.url,
  events: webhooks.events,
  createdBy: webhooks.createdBy,
  createdAt: webhooks.createdAt,
};

export function createWebhooksRepo(db: Db) {
  return {
    insert(row: { url: string; events: WebhookEvent[]; sealedSecret: string; createdBy: string }): Webhook {
      return db
        .insert(webhooks)
        .values({ url: row.url, events: row.events, secret: row.sealedSecret, createdBy: row.createdBy })
        .returning(publicView)
        .get();
    },
    list(): Webhook[] {
      return db.select(publicView).from(webhooks).orderBy(asc(webhooks.id)).all();
    },
    get(id: number): Webhook | undefined {
      return db.select(publicView).from(webhooks).where(eq(webhooks.id, id)).get();
    },
    /** Deliveries go with it (foreign key cascade). */
    remove(id: number): boolean {
      return db.delete(webhooks).where(eq(webhooks.id, id)).run().changes > 0;
    },
    targets(): WebhookTarget[] {
      return db
        .select({ id: webhooks.id, url: webhooks.url, events: webhooks.events, sealedSecret: webhooks.secret })
        .from(webhooks)
        .all();
    },
    target(id: number): WebhookTarget | undefined {
      return db
        .select({ id: webhooks.id, url: webhooks.url, events: webhooks.events, sealedSecret: webhooks.secret })
        .from(webhooks)
        .where(eq(webhooks.id, id))
        .get();
    },

    /**
     * Rewrites every sealed secret as `rewrite` says (null: leave it), in one transaction; returns how many
     * changed. For re-sealing under a new key.
     */
    rewriteSecrets(rewrite: (sealed: string, row: { id: number; url: string }) => string | null): number {
      return db.transaction((tx) => {
        let changed = 0;
        for (const row of tx
          .select({ id: webhooks.id, url: webhooks.url, secret: webhooks.secret })
          .from(webhooks)
          .all()) {
          const next = rewrite(row.secret, row);
          if (next === null || next === row.secret) continue;
          tx.update(webhooks).set({ secret: next }).where(eq(webhooks.id, row.id)).run();
          changed++;
        }
        return changed;
      });
    },

    /** One pending delivery per webhook, due now, in one transaction (an event reaches all or none). */
    enqueue(
      rows: readonly { webhookId: number; event: WebhookEvent; jobId: number | null; body: string }[],
      dueAt: number,
    ) {
      if (rows.length === 0) return;
      db.transaction((tx) => {
        for (const r of rows)
          tx.insert(webhookDeliveries)
            .values({ ...r, nextAttemptAt: dueAt })
            .run();
      });
    },
    /** Pending deliveries due at `now`, oldest first. */
    due(now: number, limit: number): DueDelivery[] {
      return db
        .select({
          id: webhookDeliveries.id,
          webhookId: webhookDeliveries.webhookId,
          event: webhookDeliveries.event,
          body: webhookDeliveries.body,
          attempts: webhookDeliveries.attempts,
        })
        .from(webhookDeliveries)
        .where(and(eq(webhookDeliveries.state, "pending"), lte(webhookDeliveries.nextAttemptAt, now)))
        .orderBy(asc(webhookDeliveries.nextAttemptAt), asc(webhookDeliveries.id))
        .limit(limit)
        .all();
    },
    /** Epoch ms of the earliest pending attempt, or null when nothing waits. */
    nextDueAt(): number | null {
      const row = db
        .select({ at: webhookDeliveries.nextAttemptAt })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.state, "pending"))
        .orderBy(asc(webhookDeliveries.nextAttemptAt))
        .limit(1)
        .get();
      return row?.at ?? null;
    },
    /** The outcome of one attempt: delivered, retry at `nextAttemptAt`, or given up (`failed`). */
    recordAttempt(
      id: number,
      outcome: {
        state: "pending" | "delivered" | "failed";
        status: number | null;
        error: string | null;
        nextAttemptAt: number | null;
      },
    ): void {
      db.update(webhookDeliveries)
        .set({
          state: outcome.state,
          attempts: sqlIncrement,
          lastStatus: outcome.status,
          lastError: outcome.error,
          nextAttemptAt: outcome.nextAttemptAt,
          lastAttemptAt: new Date().toISOString(),
        })
        .where(eq(webhookDeliveries.id, id))
        .run();
    },
    /** Newest first. */
    deliveries(webhookId: number, limit: number): WebhookDelivery[] {
      return db
        .select()
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.webhookId, webhookId))
        .orderBy(desc(webhookDeliveries.id))
        .limit(limit)
        .all()
        .map((d) => ({
          id: d.id,
          event: d.event,
          jobId: d.jobId,
          state: d.state,
          attempts: d.attempts,
          lastStatus: d.lastStatus,
          lastError: d.lastError,
          createdAt: d.createdAt,
          lastAttemptAt: d.lastAttemptAt,
          nextAttemptAt: d.nextAttemptAt === null ? null : new Date(d.nextAttemptAt).toISOString(),
        }));
    },
  };
}
export type WebhooksRepo = ReturnType<typeof createWebhooksRepo>;

const sqlIncrement = sql`${webhookDeliveries.attempts} + 1`;

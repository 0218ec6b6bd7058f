import type { JobsRepo } from "../db/repositories/jobs.ts";
import type { WebhooksRepo } from "../db/repositories/webhooks.ts";
import type { EventHub } from "../events/hub.ts";
import { toMigrationEvent } from "../jobs/migration-view.ts";
import { webhookEventOf } from "./event-mapping.ts";

/**
 * Fed by the event hub like a websocket client: each job event that maps to a webhook event becomes one stored
 * delivery per subscribed webhook, with the migration as every event listener sees it (VM commands hidden).
 */
export function watchForWebhooks(d: {
  hub: Pick<EventHub, "subscribe">;
  repo: Pick<WebhooksRepo, "targets" | "enqueue">;
  jobs: Pick<JobsRepo, "get" | "disks">;
  kick(): void;
  logger: { error(obj: object, msg: string): void };
}): () => void {
  return d.hub.subscribe(
    {},
    {
      event(e) {
        const event = webhookEventOf(e);
        if (event === null || e.jobId === null) return;
        // Called inside whoever appended the event (the job executor): a failure here must not become theirs.
        try {
          const subscribed = d.repo.targets().filter((w) => w.events.includes(event));
          if (subscribed.length === 0) return;
          const job = d.jobs.get(e.jobId);
          if (!job) return;
          const body = JSON.stringify({ event, migration: toMigrationEvent(job, d.jobs.disks(job.id)), at: e.at });
          d.repo.enqueue(
            subscribed.map((w) => ({ webhookId: w.id, event, jobId: e.jobId, body })),
            Date.now(),
          );
        } catch (err) {
          d.logger.error({ err, jobId: e.jobId, event }, "webhook deliveries could not be stored for this event");
          return;
        }
        d.kick();
      },
      progress() {},
    },
  );
}

import type { StoredEvent, WebhookEvent } from "@blockferry/contracts";

/**
 * The webhook event a stored job event stands for, or null. Ready for cutover and the end states come from
 * `job.state`; the cutover starts when the stop_vm phase begins (the VM is about to be stopped).
 */
export function webhookEventOf(e: StoredEvent): WebhookEvent | null {
  if (e.type === "job.phase") return e.data.phase === "stop_vm" ? "cutover.started" : null;
  if (e.type !== "job.state") return null;
  switch (e.data.state) {
    case "waiting_cutover":
      return "cutover.ready";
    case "succeeded":
      return "migration.succeeded";
    case "failed":
      return "migration.failed";
    case "cancelled":
      return "migration.cancelled";
    case "rolled_back":
      return "migration.rolled_back";
    default:
      return null;
  }
}

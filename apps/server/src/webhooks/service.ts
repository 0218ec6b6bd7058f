import type { CreateWebhook, Webhook, WebhookDelivery } from "@blockferry/contracts";
import type { Actor, AuditRepo } from "../db/repositories/audit.ts";
import type { WebhooksRepo } from "../db/repositories/webhooks.ts";
import { InvalidInputError, NotFoundError } from "../errors.ts";
import type { Keyring } from "../secrets/keyring.ts";

/** http or https, a host, and no credentials in the URL (they would be stored and shown in the clear). */
export function checkWebhookUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidInputError("body/url must be an absolute http:// or https:// URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InvalidInputError(`body/url must use http or https, not ${url.protocol.replace(":", "")}`);
  if (url.hostname === "") throw new InvalidInputError("body/url has no host");
  if (url.username !== "" || url.password !== "")
    throw new InvalidInputError("body/url must not hold a user or password: sign with the secret instead");
  return url.href;
}

/** Admin's webhook management: the secret is sealed before it is stored and never leaves again. */
export function createWebhookService(d: {
  repo: Pick<WebhooksRepo, "insert" | "list" | "get" | "remove" | "deliveries">;
  keyring: Pick<Keyring, "seal">;
  audit: Pick<AuditRepo, "record">;
}) {
  return {
    create(input: CreateWebhook, actor: Actor): Webhook {
      const url = checkWebhookUrl(input.url);
      const webhook = d.repo.insert({
        url,
        events: input.events,
        sealedSecret: d.keyring.seal(input.secret),
        createdBy: actor.name,
      });
      d.audit.record(actor, "webhook.create", `webhook:${webhook.id}`, { url, events: input.events });
      return webhook;
    },
    list: (): Webhook[] => d.repo.list(),
    remove(id: number, actor: Actor): void {
      const webhook = d.repo.get(id);
      if (!webhook || !d.repo.remove(id)) throw new NotFoundError("webhook", id);
      d.audit.record(actor, "webhook.delete", `webhook:${id}`, { url: webhook.url });
    },
    deliveries(id: number, limit = 200): WebhookDelivery[] {
      if (!d.repo.get(id)) throw new NotFoundError("webhook", id);
      return d.repo.deliveries(id, limit);
    },
  };
}
export type WebhookService = ReturnType<typeof createWebhookService>;

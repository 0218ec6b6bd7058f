import type { WebhooksRepo } from "../db/repositories/webhooks.ts";
import { messageOf } from "../errors.ts";
import type { Keyring } from "../secrets/keyring.ts";
import { postOnce } from "./post.ts";
import { deliveryHeaders } from "./signing.ts";

export interface DeliveryPolicy {
  /** First retry after this long; each next one waits twice as long, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Attempts in all, the first included; after the last failure the delivery is `failed`. */
  maxAttempts: number;
  timeoutMs: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = {
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  maxAttempts: 8,
  timeoutMs: 10_000,
};

/** How long to wait after the `attempts`-th failed attempt: 1, 2, 4 ... times the base, capped. */
export const retryDelayMs = (p: DeliveryPolicy, attempts: number): number =>
  Math.min(p.baseDelayMs * 2 ** Math.max(0, attempts - 1), p.maxDelayMs);

/** A 2xx is delivered; anything else (3xx included: redirects are not followed) is retried. */
const delivered = (status: number | null) => status !== null && status >= 200 && status < 300;

type Logger = { warn(obj: object, msg: string): void };

/**
 * Sends pending deliveries from the database, so a restart resumes them: one timer set for the earliest due
 * row, and `kick()` when new rows arrive. `close()` aborts attempts in flight and leaves no timer behind.
 */
export function createDeliveryWorker(d: {
  repo: Pick<WebhooksRepo, "due" | "nextDueAt" | "recordAttempt" | "target">;
  keyring: Pick<Keyring, "open">;
  logger: Logger;
  policy?: Partial<DeliveryPolicy>;
}) {
  const policy = { ...DEFAULT_DELIVERY_POLICY, ...d.policy };
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  let started = false;

  const attempt = async (row: ReturnType<typeof d.repo.due>[number]): Promise<void> => {
    const target = d.repo.target(row.webhookId);
    if (!target) return; // removed meanwhile: its deliveries went with it
    let result: { status: number | null; error: string | null };
    try {
      const headers = deliveryHeaders({
        secret: d.keyring.open(target.sealedSecret),
        event: row.event,
        deliveryId: row.id,
        timestamp: Math.floor(Date.now() / 1000),
        body: row.body,
      });
      result = await postOnce(target.url, headers, row.body, { timeoutMs: policy.timeoutMs, signal: stopping.signal });
    } catch (err) {
      // A secret that no longer opens (wrong key) is logged by name only; the secret itself never is.
      result = { status: null, error: messageOf(err) };
    }
    if (stopping.signal.aborted) return; // shutting down: the row stays due and the next start sends it
    const attempts = row.attempts + 1;
    const ok = delivered(result.status);
    const giveUp = !ok && attempts >= policy.maxAttempts;
    d.repo.recordAttempt(row.id, {
      state: ok ? "delivered" : giveUp ? "failed" : "pending",
      status: result.status,
      error: ok ? null : (result.error ?? `HTTP ${result.status}`),
      nextAttemptAt: ok || giveUp ? null : Date.now() + retryDelayMs(policy, attempts),
    });
    if (!ok)
      d.logger.warn(
        { webhookId: row.webhookId, deliveryId: row.id, attempts, status: result.status, error: result.error },
        giveUp ? "webhook delivery failed for good" : "webhook delivery failed; will retry",
      );
  };

  const drain = async (): Promise<void> => {
    do {
      again = false;
      for (;;) {
        const batch = d.repo.due(Date.now(), 20);
        if (batch.length === 0 || stopping.signal.aborted) break;
        await Promise.all(batch.map(attempt));
      }
    } while (again && !stopping.signal.aborted);
  };

  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stopping.signal.aborted) return;
    const next = d.repo.nextDueAt();
    if (next === null) return;
    timer = setTimeout(run, Math.max(0, next - Date.now()));
  };

  function run(): void {
    if (!started || stopping.signal.aborted) return;
    if (running !== null) {
      again = true;
      return;
    }
    running = drain()
      .catch((err: unknown) => d.logger.warn({ err }, "webhook worker failed; retrying at the next due time"))
      .finally(() => {
        running = null;
        schedule();
      });
  }

  return {
    policy,
    /** Sends whatever is due now (left over from an earlier process too), then follows the schedule. */
    start(): void {
      started = true;
      run();
    },
    /** New deliveries were stored. */
    kick: run,
    async close(): Promise<void> {
      stopping.abort();
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;

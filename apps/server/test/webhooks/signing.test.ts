import type { StoredEvent } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { webhookEventOf } from "../../src/webhooks/event-mapping.ts";
import { deliveryHeaders, signatureOf } from "../../src/webhooks/signing.ts";
import { DEFAULT_DELIVERY_POLICY, retryDelayMs } from "../../src/webhooks/worker.ts";

describe("webhook signing", () => {
  it("is HMAC-SHA256 over timestamp.body (vector from `openssl dgst -sha256 -hmac`)", () => {
    // printf '%s' '1700000000.{"event":"cutover.ready"}' | openssl dgst -sha256 -hmac 'a-test-secret-0123456789'
    expect(signatureOf("a-test-secret-0123456789", 1700000000, '{"event":"cutover.ready"}')).toBe(
      "sha256=8b9ad1bbc4c7cdae663fc1830ea565d5a278a4772bbed3e7177d9c260c0e9117",
    );
  });

  it("signs the timestamp too: the same body at another time has another signature", () => {
    const body = '{"event":"migration.failed"}';
    expect(signatureOf("s", 1, body)).not.toBe(signatureOf("s", 2, body));
  });

  it("puts event, delivery id, timestamp and signature in headers, never the secret", () => {
    const h = deliveryHeaders({
      secret: "very-secret-value",
      event: "cutover.started",
      deliveryId: 7,
      timestamp: 5,
      body: "{}",
    });
    expect(h).toMatchObject({
      "x-blockferry-event": "cutover.started",
      "x-blockferry-delivery": "7",
      "x-blockferry-timestamp": "5",
      "x-blockferry-signature": signatureOf("very-secret-value", 5, "{}"),
    });
    expect(JSON.stringify(h)).not.toContain("very-secret-value");
  });
});

describe("webhook retry delays", () => {
  it("double from the base and stop at the cap", () => {
    const p = { ...DEFAULT_DELIVERY_POLICY, baseDelayMs: 1000, maxDelayMs: 60_000 };
    expect([1, 2, 3, 4, 7, 8].map((n) => retryDelayMs(p, n))).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000]);
  });
});

describe("which job events are webhook events", () => {
  const ev = (type: string, data: object) => ({ id: 1, jobId: 1, seq: 1, at: "", type, data }) as StoredEvent;
  it("maps states and the start of stop_vm, and nothing else", () => {
    expect(webhookEventOf(ev("job.state", { state: "waiting_cutover", phase: "wait_cutover" }))).toBe("cutover.ready");
    expect(webhookEventOf(ev("job.phase", { phase: "stop_vm" }))).toBe("cutover.started");
    expect(webhookEventOf(ev("job.state", { state: "succeeded", phase: "done" }))).toBe("migration.succeeded");
    expect(webhookEventOf(ev("job.state", { state: "failed", phase: "verify" }))).toBe("migration.failed");
    expect(webhookEventOf(ev("job.state", { state: "cancelled", phase: "full_copy" }))).toBe("migration.cancelled");
    expect(webhookEventOf(ev("job.state", { state: "rolled_back", phase: "wait_cutover" }))).toBe(
      "migration.rolled_back",
    );
    expect(webhookEventOf(ev("job.state", { state: "running", phase: "snapshot" }))).toBeNull();
    expect(webhookEventOf(ev("job.phase", { phase: "final_delta" }))).toBeNull();
    expect(webhookEventOf(ev("job.log", { level: "info", message: "x" }))).toBeNull();
  });
});

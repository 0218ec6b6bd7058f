import { createHmac } from "node:crypto";

/**
 * `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`). The timestamp is signed with the body so a
 * receiver that rejects old timestamps cannot be fed a replayed delivery.
 */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** The headers of one delivery attempt; `timestamp` is Unix seconds. */
export function deliveryHeaders(o: {
  secret: string;
  event: string;
  deliveryId: number;
  timestamp: number;
  body: string;
}): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": "Blockferry-Webhook/1",
    "x-blockferry-event": o.event,
    "x-blockferry-delivery": String(o.deliveryId),
    "x-blockferry-timestamp": String(o.timestamp),
    "x-blockferry-signature": signatureOf(o.secret, o.timestamp, o.body),
  };
}

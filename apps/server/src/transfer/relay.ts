import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { TruncatedStreamError } from "./errors.ts";
import type { RateLimiter } from "./rate-limiter.ts";

/**
 * Moves exactly `expected` bytes from the source's stdout to the destination's stdin, honouring the rate
 * limit and backpressure. The destination's stdin is ended only after the exact count arrived: a short or
 * long stream throws and leaves the destination without EOF, for the caller to kill.
 */
export async function relayExact(
  host: string,
  from: Readable,
  to: Writable,
  expected: number,
  limiter: RateLimiter | undefined,
  signal: AbortSignal,
): Promise<number> {
  let received = 0;
  for await (const chunk of from as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > expected) throw new TruncatedStreamError(host, expected, received);
    if (limiter) await limiter.take(chunk.length, signal);
    if (!to.write(chunk)) await once(to, "drain", { signal });
  }
  signal.throwIfAborted();
  if (received !== expected) throw new TruncatedStreamError(host, expected, received);
  to.end();
  return received;
}

/** All of a small stdout (hash lines) as text. */
export async function readAllText(from: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of from as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

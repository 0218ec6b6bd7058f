import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { RateLimiter } from "./rate-limiter.ts";

/**
 * What the source's stdout carries, as the bytes it stands for: the rate limit counts bytes on the wire (before
 * decompression); a gzip stream is inflated here. Errors of either stage surface on the returned stream.
 */
export function incoming(
  stdout: Readable,
  o: { limiter?: RateLimiter; gzip: boolean; signal: AbortSignal; onWire(bytes: number): void },
): Readable {
  const { limiter, signal } = o;
  if (!limiter && !o.gzip) {
    // The common case stays one stream: no generator between the channel and the record writer.
    stdout.on("data", (chunk: Buffer) => o.onWire(chunk.length));
    return stdout;
  }
  const wire = Readable.from(
    (async function* () {
      for await (const chunk of stdout as AsyncIterable<Buffer>) {
        o.onWire(chunk.length);
        if (limiter) await limiter.take(chunk.length, signal);
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
  if (!o.gzip) return wire;
  const inflate = createGunzip();
  pipeline(wire, inflate).catch((e: unknown) => inflate.destroy(e as Error));
  return inflate;
}

/** All of a small stdout (hash lines) as text. */
export async function readAllText(from: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of from as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

import { createRequire } from "node:module";
import { EventStream, socketFactory, type WebSocketLike } from "@blockferry/client";
import type { ProgressMessage } from "@blockferry/contracts";

// Loaded untyped, as e2e/browser/dashboard-stream.test.ts does: e2e has `ws` but not @types/ws, and the client
// only needs the WebSocketLike surface.
const WebSocket = createRequire(import.meta.url)("ws") as new (
  url: string,
  protocols: string[],
  options: { headers: Record<string, string> },
) => WebSocketLike<{ data: unknown }, { code: number; reason: string }>;

/**
 * The newest live progress of each disk of a job, as the dashboard hears it on the event stream: progress is
 * never stored, and the API's counters move only when a whole range is confirmed (a small LV is one range).
 * A direct copy's streamed bytes move in pacing steps: 4 MiB blocks under a bandwidth limit.
 * `close()` before the server goes away, or the stream keeps reconnecting.
 */
export function followProgress(server: { url: string; token: string }, jobId: number) {
  const latest = new Map<number, ProgressMessage>();
  const stream = new EventStream(
    {
      url: `${server.url.replace(/^http/, "ws")}/api/events/stream`,
      jobId,
      connect: socketFactory((url) => new WebSocket(url, [], { headers: { authorization: `Bearer ${server.token}` } })),
    },
    { event: () => undefined, progress: (p) => void latest.set(p.disk ?? 0, p) },
  ).start();
  return { latest, close: () => stream.close() };
}

/** How far a copy got: confirmed bytes and those streamed but not yet confirmed, between 0 and 1. */
export const copiedFraction = (p: ProgressMessage) =>
  p.bytesTotal > 0 ? (p.bytesDone + (p.bytesStreamed ?? 0)) / p.bytesTotal : 0;

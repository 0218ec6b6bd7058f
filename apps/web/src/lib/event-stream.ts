import {
  EventStream,
  type EventStreamOptions,
  type SocketFactory,
  type StreamHandlers,
  socketFactory,
} from "@blockferry/client";

export type { SocketFactory, StreamStatus } from "@blockferry/client";

/** The browser's WebSocket, as the shared event stream client takes it. */
export const browserSocket: SocketFactory = socketFactory((url) => new WebSocket(url));

/** A path of the page's own server (`/api/events/stream`) as the ws(s):// URL to open. */
export function pageSocketUrl(path: string): string {
  const loc = globalThis.location;
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}${path}`;
}

/** The event stream of the server that served the page (packages/client does the resuming and reconnecting). */
export function pageEventStream(
  opts: Omit<EventStreamOptions, "url" | "connect"> & { path: string; connect?: SocketFactory },
  handlers: StreamHandlers,
): EventStream {
  const { path, connect, ...rest } = opts;
  return new EventStream({ ...rest, url: pageSocketUrl(path), connect: connect ?? browserSocket }, handlers);
}

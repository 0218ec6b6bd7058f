import type { EventStreamQuery, ServerMessage, StoredEvent } from "@blockferry/contracts";
import type { WebSocket } from "@fastify/websocket";
import type { EventsRepo } from "../../db/repositories/events.ts";
import type { EventHub } from "../../events/hub.ts";

/** A client this far behind is dropped; it reconnects from its last event id and loses nothing. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Stored events are replayed this many at a time, yielding to the event loop between pages. */
const REPLAY_PAGE = 200;

/**
 * Store first, stream second: subscribes to live events (held back while replaying), replays the stored ones
 * after `after` page by page, then releases the held ones. A long history never blocks the server in one burst,
 * and nothing slips between replay and live.
 */
export async function streamEvents(
  socket: WebSocket,
  query: EventStreamQuery,
  d: { hub: EventHub; events: Pick<EventsRepo, "listAfter"> },
): Promise<void> {
  const { jobId, after = 0 } = query;
  const open = () => socket.readyState === socket.OPEN;
  const send = (m: ServerMessage) => {
    if (!open()) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      socket.close(4000, "client too slow; reconnect from your last event id");
      return;
    }
    socket.send(JSON.stringify(m));
  };
  let lastId = after;
  const deliver = (e: StoredEvent) => {
    if (e.id <= lastId) return;
    lastId = e.id;
    send({ kind: "event", event: e });
  };

  let held: StoredEvent[] | null = [];
  const unsubscribe = d.hub.subscribe(jobId === undefined ? {} : { jobId }, {
    event: (e) => (held ? held.push(e) : deliver(e)),
    progress: (p) => {
      if (!held) send({ kind: "progress", progress: p });
    },
  });
  socket.on("close", unsubscribe);

  for (;;) {
    const page = d.events.listAfter(lastId, { jobId, limit: REPLAY_PAGE });
    for (const e of page) deliver(e);
    if (page.length < REPLAY_PAGE || !open()) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const live = held;
  held = null;
  for (const e of live) deliver(e);
  send({ kind: "ready", lastId });
}

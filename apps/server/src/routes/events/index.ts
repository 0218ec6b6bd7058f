import { ErrorBody, EventList, EventListQuery, EventStreamQuery, type ServerMessage } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { EventsRepo } from "../../db/repositories/events.ts";
import type { EventHub } from "../../events/hub.ts";

/** A client this far behind is dropped; it reconnects from its last event id and loses nothing. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export const eventRoutes: FastifyPluginAsyncTypebox<{ hub: EventHub; events: Pick<EventsRepo, "listAfter"> }> = async (
  app,
  { hub, events },
) => {
  app.get(
    "/events",
    {
      schema: {
        operationId: "listEvents",
        tags: ["events"],
        querystring: EventListQuery,
        response: { 200: EventList, 400: ErrorBody },
      },
    },
    async (request) => ({
      events: events.listAfter(request.query.after ?? 0, { limit: request.query.limit ?? 200 }),
    }),
  );

  app.get(
    "/jobs/:jobId/events",
    {
      schema: {
        operationId: "listJobEvents",
        tags: ["events"],
        params: Type.Object({ jobId: Type.Integer({ minimum: 1 }) }),
        querystring: EventListQuery,
        response: { 200: EventList, 400: ErrorBody },
      },
    },
    async (request) => {
      const { jobId } = request.params;
      return { events: events.listAfter(request.query.after ?? 0, { jobId, limit: request.query.limit ?? 200 }) };
    },
  );

  // Store first, stream second: the socket replays stored events after `after`, then follows live ones.
  app.get(
    "/events/stream",
    { websocket: true, schema: { operationId: "streamEvents", tags: ["events"], querystring: EventStreamQuery } },
    (socket, request) => {
      const { jobId, after = 0 } = request.query;
      const send = (m: ServerMessage) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(4000, "client too slow; reconnect from your last event id");
          return;
        }
        socket.send(JSON.stringify(m));
      };
      let lastId = after;
      const unsubscribe = hub.follow(jobId === undefined ? {} : { jobId }, after, {
        event(e) {
          if (e.id <= lastId) return;
          lastId = e.id;
          send({ kind: "event", event: e });
        },
        progress(p) {
          send({ kind: "progress", progress: p });
        },
      });
      send({ kind: "ready", lastId });
      socket.on("close", unsubscribe);
    },
  );
};

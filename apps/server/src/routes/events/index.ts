import { ErrorBody, EventList, EventListQuery, EventStreamQuery } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { EventsRepo } from "../../db/repositories/events.ts";
import { TooManyRequestsError } from "../../errors.ts";
import type { EventHub } from "../../events/hub.ts";
import { streamEvents } from "./stream.ts";

export interface EventRouteDeps {
  hub: EventHub;
  events: Pick<EventsRepo, "listAfter">;
  maxSocketsPerUser?: number;
  /** Told of each stream opening and closing (the event-stream-clients gauge). */
  clients?: { opened(): void; closed(): void };
}

export const eventRoutes: FastifyPluginAsyncTypebox<EventRouteDeps> = async (
  app,
  { hub, events, maxSocketsPerUser = 20, clients },
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

  // Per user: each socket holds a subscription and a replay; a runaway tab or script cannot hold them all.
  const socketsPerUser = new Map<number, number>();
  app.get(
    "/events/stream",
    {
      websocket: true,
      schema: { operationId: "streamEvents", tags: ["events"], querystring: EventStreamQuery },
      preHandler: async (request) => {
        const userId = request.principal?.userId ?? 0;
        if ((socketsPerUser.get(userId) ?? 0) >= maxSocketsPerUser)
          throw new TooManyRequestsError(`at most ${maxSocketsPerUser} event streams per user`, 5);
      },
    },
    (socket, request) => {
      const userId = request.principal?.userId ?? 0;
      socketsPerUser.set(userId, (socketsPerUser.get(userId) ?? 0) + 1);
      clients?.opened();
      socket.on("close", () => {
        clients?.closed();
        const n = (socketsPerUser.get(userId) ?? 1) - 1;
        if (n > 0) socketsPerUser.set(userId, n);
        else socketsPerUser.delete(userId);
      });
      streamEvents(socket, request.query, { hub, events }).catch((err: unknown) => {
        request.log.error({ err }, "event stream failed");
        socket.close(1011, "event stream failed");
      });
    },
  );
};

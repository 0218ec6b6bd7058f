import { type Static, Type } from "typebox";
import { MAX_ID } from "./common.ts";

/**
 * A stored event. `id` is global and strictly increasing: it is the cursor a client resumes from,
 * whether it follows one job or all of them. `seq` numbers the events of one job from 1.
 */
export const StoredEvent = Type.Object({
  id: Type.Integer(),
  jobId: Type.Union([Type.Integer(), Type.Null()]),
  seq: Type.Integer(),
  type: Type.String(),
  at: Type.String({ description: "ISO 8601 time the event was stored" }),
  data: Type.Unknown(),
});
export type StoredEvent = Static<typeof StoredEvent>;

/** Live, unstored progress: throttled to ~10 per second per job; stored counters stay exact. */
export const ProgressMessage = Type.Object({
  jobId: Type.Integer(),
  phase: Type.String(),
  bytesDone: Type.Number(),
  bytesTotal: Type.Number(),
  rangesDone: Type.Number(),
  rangesTotal: Type.Number(),
  bytesPerSecond: Type.Number(),
  etaSeconds: Type.Union([Type.Number(), Type.Null()]),
  /** Chunk runs [first, count] finished since the previous message, for the live chunk map. */
  doneRuns: Type.Optional(Type.Array(Type.Tuple([Type.Number(), Type.Number()]))),
  extra: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type ProgressMessage = Static<typeof ProgressMessage>;

/** Messages the server sends on the websocket. */
export type ServerMessage =
  | { kind: "event"; event: StoredEvent }
  | { kind: "progress"; progress: ProgressMessage }
  | { kind: "ready"; lastId: number }
  | { kind: "error"; message: string };

/** Query of the websocket route: follow one job (or all) from after the given event id. */
export const EventStreamQuery = Type.Object({
  jobId: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_ID })),
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_ID, default: 0 })),
});
export type EventStreamQuery = Static<typeof EventStreamQuery>;

export const EventListQuery = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_ID, default: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
});
export type EventListQuery = Static<typeof EventListQuery>;

export const EventList = Type.Object({ events: Type.Array(StoredEvent) });
export type EventList = Static<typeof EventList>;

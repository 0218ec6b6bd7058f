import { type Static, type TSchema, Type } from "typebox";
import { MAX_ID } from "./common.ts";
import { CutoverWait, OutagePrediction } from "./cutover.ts";
import { JobState, Migration } from "./migrations.ts";
import { PASS_NAME, PHASES } from "./vocabulary.ts";

const Phase = Type.Enum(PHASES);
const event = <T extends string, D extends TSchema>(type: T, data: D) =>
  Type.Object({ type: Type.Literal(type), data });

export const LogLevel = Type.Enum(["info", "warn", "error"]);
export type LogLevel = Static<typeof LogLevel>;

/** Optional facts a log line carries beside its text, for whoever reads the stored log. */
export const LogDetails = Type.Object({
  /** The disk of a migration's set the line is about. */
  disk: Type.Optional(Type.Integer({ minimum: 0, maximum: 15 })),
  snapshot: Type.Optional(Type.String()),
  thin: Type.Optional(Type.Boolean()),
  bytes: Type.Optional(Type.Number()),
  /** Which way a copy's bytes went (options.dataPath resolved). */
  dataPath: Type.Optional(Type.Union([Type.Literal("direct"), Type.Literal("relay")])),
});
export type LogDetails = Static<typeof LogDetails>;

/** The disk of a migration's set an event concerns (its index); absent for a one-disk migration. */
const Disk = Type.Optional(Type.Integer({ minimum: 0, maximum: 15 }));

/**
 * What happened to a job, by `type`. Events a phase records carry the phase it ran in (the runner adds it);
 * a log line carries it when a phase wrote it.
 */
export const JobEvent = Type.Union([
  event("job.created", Type.Object({ migration: Migration })),
  event(
    "job.state",
    Type.Object({
      state: JobState,
      phase: Phase,
      /** The attempt a retry starts. */
      retry: Type.Optional(Type.Integer({ minimum: 0 })),
    }),
  ),
  event("job.phase", Type.Object({ phase: Phase })),
  event(
    "job.log",
    Type.Intersect([Type.Object({ level: LogLevel, message: Type.String(), phase: Type.Optional(Phase) }), LogDetails]),
  ),
  event("job.snapshot", Type.Object({ phase: Phase, disk: Disk, snapshot: Type.String(), fillPercent: Type.Number() })),
  event(
    "job.verified",
    Type.Object({ phase: Phase, disk: Disk, ranges: Type.Integer({ minimum: 0 }), full: Type.Boolean() }),
  ),
  /** The outage begins: stored before the stop command, so a dashboard shows the VM down from its first second. */
  event("job.vm_stopped", Type.Object({ phase: Phase, at: Type.Number({ description: "epoch milliseconds" }) })),
  event(
    "job.outage",
    Type.Object({
      phase: Phase,
      outageMs: Type.Number(),
      /** The prediction taken right before the stop, when there was one (the prediction-error metric). */
      predictedOutageSeconds: Type.Optional(Type.Number()),
    }),
  ),
  /**
   * A copy pass finished: how many of its ranges an earlier, interrupted run had confirmed already (the journal
   * resumed them: neither read nor sent again) and what this run moved.
   */
  event(
    "job.copied",
    Type.Object({
      phase: Phase,
      disk: Disk,
      pass: Type.String(),
      rangesTotal: Type.Integer({ minimum: 0 }),
      rangesAlreadyDone: Type.Integer({ minimum: 0 }),
      bytesRead: Type.Number(),
      bytesSent: Type.Number(),
    }),
  ),
  /**
   * A new outage prediction. The view's `prediction` is refreshed every few seconds; an event is stored only when it
   * moved (by 10% or a second) or a minute passed, so a migration waiting for days does not fill the log.
   */
  event("job.prediction", Type.Object({ phase: Phase, prediction: OutagePrediction })),
  /** An automatic cutover waits, and why; stored when the reason changes. */
  event("job.cutover_waiting", Type.Intersect([Type.Object({ phase: Phase }), CutoverWait])),
  /** The cutover gate said no right before stop_vm: the VM keeps running on the source. */
  event("job.cutover_refused", Type.Object({ phase: Phase, reason: Type.String() })),
  /** The target failed during the outage and the VM runs on the source again. */
  event("job.rolled_back", Type.Object({ phase: Phase, reason: Type.String(), outageMs: Type.Number() })),
]);
export type JobEvent = Static<typeof JobEvent>;

/** What happened to a host's trust; stored without a job. */
export const HostEvent = Type.Union([
  event(
    "host.added",
    Type.Object({
      hostId: Type.Integer(),
      name: Type.String(),
      /** null when the host could not be reached to read its key */
      fingerprint: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  event("host.trusted", Type.Object({ hostId: Type.Integer(), name: Type.String(), fingerprint: Type.String() })),
  event(
    "host.key_changed",
    Type.Object({
      hostId: Type.Integer(),
      name: Type.String(),
      expected: Type.Union([Type.String(), Type.Null()]),
      presented: Type.String(),
    }),
  ),
]);
export type HostEvent = Static<typeof HostEvent>;

/** Every event the server stores, discriminated by `type`. */
export const ServerEvent = Type.Union([...JobEvent.anyOf, ...HostEvent.anyOf]);
export type ServerEvent = JobEvent | HostEvent;
export type EventType = ServerEvent["type"];
/** The data of one event type. */
export type EventData<T extends EventType> = Extract<ServerEvent, { type: T }>["data"];

/** Where and when an event was stored, beside its type and data. */
export const EventEnvelope = Type.Object({
  id: Type.Integer({ description: "global and strictly increasing: the cursor a client resumes from" }),
  jobId: Type.Union([Type.Integer(), Type.Null()]),
  seq: Type.Integer({ description: "numbers the events of one job (or of the host log) from 1" }),
  at: Type.String({ description: "ISO 8601 time the event was stored" }),
});
export type EventEnvelope = Static<typeof EventEnvelope>;

/**
 * A stored event: its envelope and one of the typed events. On the wire (EventList, the websocket) the schema
 * leaves `data` open, so a client older than the server still reads events it does not know.
 */
export type StoredEvent = EventEnvelope & ServerEvent;
export const StoredEventSchema = Type.Object({
  ...EventEnvelope.properties,
  type: Type.String({ description: "see JobEvent and HostEvent" }),
  data: Type.Unknown(),
});

/** Live, unstored progress: throttled to ~10 per second per job; stored counters stay exact. */
export const ProgressMessage = Type.Object({
  jobId: Type.Integer(),
  phase: Phase,
  /** The disk whose copy this is (multi-disk migrations); its counters, not the job's. */
  disk: Disk,
  /**
   * The journal's name of the pass the counters belong to ("full-g1", "catchup-2", "final", ...: PASS_NAME); absent
   * from a server older than the field.
   */
  pass: Type.Optional(Type.String({ pattern: PASS_NAME.source })),
  bytesDone: Type.Number(),
  bytesTotal: Type.Number(),
  rangesDone: Type.Number(),
  rangesTotal: Type.Number(),
  /** Measured over the last seconds of bytes streamed (not only confirmed), capped at the bandwidth limit. */
  bytesPerSecond: Type.Number(),
  etaSeconds: Type.Union([Type.Number(), Type.Null()]),
  /** Chunk runs [first, count] finished since the previous message, for the live chunk map. */
  doneRuns: Type.Optional(Type.Array(Type.Tuple([Type.Number(), Type.Number()]))),
  /**
   * Bytes of unconfirmed ranges already streamed through the server (in flight: not yet read back and journaled).
   * `bytesDone + bytesStreamed` is how far the copy got; only `bytesDone` is stored.
   */
  bytesStreamed: Type.Optional(Type.Number()),
  /** Chunk runs [first, count] streamed and not yet confirmed, now: each message replaces the previous set. */
  inFlightRuns: Type.Optional(Type.Array(Type.Tuple([Type.Number(), Type.Number()]))),
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

export const EventList = Type.Object({ events: Type.Array(StoredEventSchema) });
export type EventList = Static<typeof EventList>;

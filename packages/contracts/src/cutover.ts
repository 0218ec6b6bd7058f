import { type Static, Type } from "typebox";

/**
 * When to cut over. "manual": the operator confirms. "auto": catch-up passes (rotating snapshots) run until the
 * predicted outage fits `maxOutageSeconds`, then the cutover starts inside [notBefore, notAfter]. When it cannot
 * converge within `maxPasses`, or the window has closed, it waits for an operator and says why (`cutoverWait`).
 * An operator can force a cutover at any time (POST /cutover) and change the policy of a running migration
 * (PUT /cutover-policy).
 */
export const CutoverPolicy = Type.Union(
  [
    Type.Object({ mode: Type.Literal("manual") }, { additionalProperties: false }),
    Type.Object(
      {
        mode: Type.Literal("auto"),
        maxOutageSeconds: Type.Optional(
          Type.Number({ minimum: 0.1, maximum: 86_400, description: "outage budget; no budget when absent" }),
        ),
        maxPasses: Type.Optional(
          Type.Integer({ minimum: 0, maximum: 50, description: "catch-up passes that may run to converge; default 5" }),
        ),
        notBefore: Type.Optional(Type.String({ format: "date-time", description: "no stop before this time" })),
        notAfter: Type.Optional(
          Type.String({ format: "date-time", description: "no stop after this time: then it waits for an operator" }),
        ),
      },
      { additionalProperties: false },
    ),
  ],
  { $id: "CutoverPolicy" },
);
export type CutoverPolicy = Static<typeof CutoverPolicy>;

/**
 * The outage a cutover started now would cause, refreshed while the job copies and waits: the changed bytes and runs
 * the snapshot holds now, sent at the delta throughput this migration measured, plus stop, verify and start times
 * measured in earlier migrations (of this VM, else on these hosts, else stated defaults). `basis` says which.
 */
export const OutagePrediction = Type.Object(
  {
    outageSeconds: Type.Number({ minimum: 0 }),
    changedBytes: Type.Number({ minimum: 0 }),
    changedRuns: Type.Integer({ minimum: 0 }),
    /** Seconds per part: stop, final delta (read changes + send), verify, start. */
    parts: Type.Object({
      stopSeconds: Type.Number(),
      deltaSeconds: Type.Number(),
      verifySeconds: Type.Number(),
      startSeconds: Type.Number(),
    }),
    /**
     * The outage of a cutover with nothing left to send (stop, the delta's and verify's fixed costs, start): the floor
     * no catch-up pass can go below, so a budget under it cannot be met.
     */
    idleOutageSeconds: Type.Optional(Type.Number({ minimum: 0 })),
    /** How fast the VM adds changed bytes now (growth of the snapshot over the last readings); null until known. */
    writeBytesPerSecond: Type.Union([Type.Number(), Type.Null()]),
    basis: Type.String({ description: "where each figure came from, in words" }),
    at: Type.String({ format: "date-time" }),
  },
  { $id: "OutagePrediction" },
);
export type OutagePrediction = Static<typeof OutagePrediction>;

/** Why an automatic cutover is not starting now (null when it is not waiting, or the cutover is manual). */
export const CutoverWait = Type.Object({
  reason: Type.Union([
    Type.Literal("before_window"),
    Type.Literal("over_budget"),
    Type.Literal("not_converging"),
    Type.Literal("window_closed"),
    Type.Literal("gate_refused"),
  ]),
  message: Type.String({ description: "in words, with the figures: what it waits for and what the operator can do" }),
  until: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
    description: "when it will look again by itself; null: it waits for an operator",
  }),
});
export type CutoverWait = Static<typeof CutoverWait>;

import { type Static, Type } from "typebox";

/** Every error response has this body; `requestId` ties it to the server log line. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: "Stable machine-readable code, e.g. NOT_FOUND" }),
      message: Type.String(),
      requestId: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: "ErrorBody" },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** Ids and sequence numbers: integers JavaScript holds exactly (1e300 is an integer, but no id). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;
export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: MAX_ID }) });
export type IdParams = Static<typeof IdParams>;

export const Health = Type.Object({
  status: Type.Literal("ok"),
  version: Type.String(),
  uptimeSeconds: Type.Number(),
  sshNativeCrypto: Type.Boolean({ description: "ssh2's native crypto addon is loaded (fast AES-GCM)" }),
});
export type Health = Static<typeof Health>;

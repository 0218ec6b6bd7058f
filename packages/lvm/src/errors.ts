/** Why a value was refused; stable codes so callers (and API error bodies) can branch on them. */
export type InvalidValueReason =
  | "empty"
  | "too-long"
  | "bad-character"
  | "leading-hyphen"
  | "dot-name"
  | "reserved-prefix"
  | "reserved-substring"
  | "not-absolute"
  | "bad-segment"
  | "not-a-device-path"
  | "not-an-integer"
  | "out-of-range"
  | "misaligned"
  | "nul-byte";

/** A value refused before it could reach a remote shell. The message names the kind, the rule and the value. */
export class InvalidValueError extends Error {
  override readonly name = "InvalidValueError";
  constructor(
    readonly kind: string,
    readonly reason: InvalidValueReason,
    readonly value: string,
    detail: string,
  ) {
    super(`invalid ${kind} ${JSON.stringify(value.length > 160 ? `${value.slice(0, 160)}...` : value)}: ${detail}`);
  }
}

/** Output of a remote tool that does not have the shape we rely on. */
export class ParseError extends Error {
  override readonly name = "ParseError";
  constructor(
    readonly what: string,
    detail: string,
  ) {
    super(`cannot parse ${what}: ${detail}`);
  }
}

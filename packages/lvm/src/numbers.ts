import { InvalidValueError } from "./errors.ts";

export type ByteCount = number | bigint;

/** A non-negative integer (number or bigint) rendered as decimal digits; refuses NaN, fractions, negatives. */
export function uintText(
  kind: string,
  value: ByteCount,
  opts: { min?: bigint; max?: bigint; multipleOf?: bigint } = {},
): string {
  let big: bigint;
  if (typeof value === "bigint") big = value;
  else if (Number.isSafeInteger(value)) big = BigInt(value);
  else throw new InvalidValueError(kind, "not-an-integer", String(value), "must be a safe integer");
  const min = opts.min ?? 0n;
  if (big < min) throw new InvalidValueError(kind, "out-of-range", String(value), `must be at least ${min}`);
  if (opts.max !== undefined && big > opts.max)
    throw new InvalidValueError(kind, "out-of-range", String(value), `must be at most ${opts.max}`);
  if (opts.multipleOf !== undefined && big % opts.multipleOf !== 0n)
    throw new InvalidValueError(kind, "misaligned", String(value), `must be a multiple of ${opts.multipleOf}`);
  return big.toString(10);
}

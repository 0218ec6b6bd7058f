import { InvalidValueError } from "./errors.ts";

/**
 * POSIX shell single-quoting: everything between single quotes is literal; a single quote itself is
 * written as '\'' (close, escaped quote, reopen). NUL cannot travel in a shell word at all, so it is refused.
 */
export function shQuote(value: string): string {
  if (value.includes("\0")) throw new InvalidValueError("shell argument", "nul-byte", value, "contains a NUL byte");
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Quote each argument and join with spaces: one shell command line from an argument vector. */
export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(" ");
}

import type { Static, TSchema } from "typebox";
import { Value } from "typebox/value";

/**
 * A row whose stored JSON (or enum text) does not have the shape the code reads: left by an older version, a hand
 * edit or a bug. Loading it fails loudly, naming the row and the column, instead of a phase tripping over it later.
 */
export class StoredDataError extends Error {
  readonly code = "STORED_DATA_INVALID";
  constructor(
    readonly table: string,
    readonly rowId: number,
    readonly column: string,
    detail: string,
  ) {
    super(`${table} row ${rowId}: stored ${column} is invalid: ${detail}`);
    this.name = "StoredDataError";
  }
}

/** The value, typed by its schema; a StoredDataError with the first problems found when it does not match. */
export function checkStored<S extends TSchema>(
  schema: S,
  value: unknown,
  where: { table: string; rowId: number; column: string },
): Static<S> {
  if (Value.Check(schema, value)) return value;
  const problems = Value.Errors(schema, value)
    .slice(0, 3)
    .map((e) => `${e.instancePath || "/"} ${e.message}`);
  throw new StoredDataError(where.table, where.rowId, where.column, problems.join("; "));
}

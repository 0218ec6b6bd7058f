import { IdParams } from "@blockferry/contracts";
import type { TSchema } from "typebox";

/** Route options of a GET that reads one resource by its `:id`: the shape most read routes share. */
export const readById = <R extends TSchema, E extends Record<number, TSchema>>(
  operationId: string,
  tag: string,
  response: R,
  errors: E,
) => ({ schema: { operationId, tags: [tag], params: IdParams, response: { 200: response, ...errors } } });

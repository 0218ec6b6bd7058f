import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import type { Db } from "../../../src/db/open.ts";
import { seedJob } from "../../support/job-seed.ts";

/** A job row (and its two host rows) for the journal's foreign keys. */
export const insertJob = (db: Db): number => seedJob(db).job.id;

/** Writes `data` into the file at `offset` without truncating it. */
export function writeAt(path: string, offset: number, data: Buffer): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

export const sha256File = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

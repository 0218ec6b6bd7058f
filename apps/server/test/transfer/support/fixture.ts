import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import type { Db } from "../../../src/db/open.ts";
import { hosts, jobs } from "../../../src/db/schema.ts";

/** A job row (and its two host rows) for the journal's foreign keys. */
export function insertJob(db: Db): number {
  const h = db
    .insert(hosts)
    .values({ name: `h-${randomBytes(4).toString("hex")}`, address: "127.0.0.1" })
    .returning()
    .get();
  const j = db
    .insert(jobs)
    .values({
      sourceHostId: h.id,
      sourceVg: "vg",
      sourceLv: "lv",
      targetHostId: h.id,
      targetVg: "vg",
      targetLv: "lv",
      vm: { controller: "none" },
      options: {},
    })
    .returning()
    .get();
  return j.id;
}

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

import { randomBytes } from "node:crypto";
import type { Db } from "../../src/db/open.ts";
import { createJobsRepo, type JobRow, type NewJob } from "../../src/db/repositories/jobs.ts";
import { hosts } from "../../src/db/schema.ts";

export interface SeededJob {
  job: JobRow;
  sourceHostId: number;
  targetHostId: number;
}

/**
 * Two trusted host rows and a job row from the first to the second, through the real repository (foreign keys,
 * defaults and JSON columns as the app stores them). Host names are random so one database can hold many seeds.
 */
export function seedJob(db: Db, overrides: Partial<NewJob> = {}): SeededJob {
  const host = (role: string) =>
    db
      .insert(hosts)
      .values({ name: `${role}-${randomBytes(4).toString("hex")}`, address: "127.0.0.1", status: "trusted" })
      .returning()
      .get().id;
  const sourceHostId = host("src");
  const targetHostId = host("dst");
  const job = createJobsRepo(db).insert({
    sourceHostId,
    sourceVg: "vg0",
    sourceLv: "vm1",
    targetHostId,
    targetVg: "vg0",
    targetLv: "vm1",
    vm: { controller: "none" },
    options: {},
    ...overrides,
  });
  return { job, sourceHostId, targetHostId };
}

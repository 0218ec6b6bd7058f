import type { Migration, MigrationReport, StoredEvent } from "@blockferry/contracts";
import type { ChunkMapRepo } from "../db/repositories/chunk-map.ts";
import type { EventsRepo } from "../db/repositories/events.ts";
import type { HostsRepo } from "../db/repositories/hosts.ts";
import type { JobObjectsRepo } from "../db/repositories/job-objects.ts";
import type { JobsRepo } from "../db/repositories/jobs.ts";
import { NotFoundError } from "../errors.ts";
import { migrationLogText } from "./migration-log.ts";
import { buildMigrationReport } from "./migration-report.ts";

export interface MigrationHistoryDeps {
  jobs: Pick<JobsRepo, "get">;
  events: Pick<EventsRepo, "listAfter">;
  journal: Pick<ChunkMapRepo, "rangesOf">;
  objects: Pick<JobObjectsRepo, "targetRemoved">;
  hosts: Pick<HostsRepo, "get">;
}

const PAGE = 1000;

/** What a migration did, read back from its stored events and journal: the report and the downloadable log. */
export function createMigrationHistory(d: MigrationHistoryDeps) {
  const load = (id: number) => {
    const job = d.jobs.get(id);
    if (!job) throw new NotFoundError("migration", id);
    return job;
  };
  /** Every event of the job, oldest first, read a page at a time. */
  function* eventsOf(jobId: number): Generator<StoredEvent> {
    let after = 0;
    for (;;) {
      const page = d.events.listAfter(after, { jobId, limit: PAGE });
      yield* page;
      const last = page[page.length - 1];
      if (!last || page.length < PAGE) return;
      after = last.id;
    }
  }
  return {
    report(id: number): MigrationReport {
      const job = load(id);
      return buildMigrationReport({
        job,
        events: [...eventsOf(id)],
        journal: d.journal.rangesOf(id),
        targetRemoved: d.objects.targetRemoved(id),
      });
    },
    /** The log as text; `mask` turns the stored view of the migration into what the reader may see. */
    log(id: number, mask: (m: Migration) => Migration): string {
      load(id);
      const hostName = (hostId: number) => d.hosts.get(hostId)?.name ?? `host ${hostId}`;
      return migrationLogText(id, eventsOf(id), { mask, hostName });
    },
  };
}
export type MigrationHistory = ReturnType<typeof createMigrationHistory>;

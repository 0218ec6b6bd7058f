import type { VmControl } from "@blockferry/contracts";
import { createAuditRepo } from "../../src/db/repositories/audit.ts";
import { createChunkMapRepo } from "../../src/db/repositories/chunk-map.ts";
import { createEventsRepo } from "../../src/db/repositories/events.ts";
import { createHostsRepo } from "../../src/db/repositories/hosts.ts";
import { createJobsRepo } from "../../src/db/repositories/jobs.ts";
import { hosts } from "../../src/db/schema.ts";
import { EventHub } from "../../src/events/hub.ts";
import { createMigrationService } from "../../src/jobs/migration-service.ts";
import { tempDb } from "./helpers.ts";

/**
 * A real migrated database with two trusted hosts, "a" (source) and "b" (target), and one job created through the
 * migration service, for tests that drive the executor by hand. No runner runs in this process: the interrupt a
 * cancel sends is lost, as for a job run by another process.
 */
export function serviceJob(o: { vm?: VmControl } = {}) {
  const t = tempDb();
  const [a, b] = ["a", "b"].map(
    (name) => t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id,
  ) as [number, number];
  const jobs = createJobsRepo(t.db);
  const hub = new EventHub(createEventsRepo(t.db));
  const service = createMigrationService({
    chunkMaps: createChunkMapRepo(t.db),
    jobs,
    hosts: createHostsRepo(t.db),
    audit: createAuditRepo(t.db),
    hub,
    kick() {},
    interrupt() {},
    updateOptions() {},
  });
  const job = service.create({
    source: { hostId: a, vg: "vg0", lv: "vm1" },
    target: { hostId: b, vg: "vg0" },
    vm: o.vm ?? { controller: "none" },
  });
  return { t, a, b, jobs, hub, service, job };
}

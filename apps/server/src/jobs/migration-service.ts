import type { ChunkMap, CreateMigration, Migration, MigrationListQuery, MigrationOptions } from "@blockferry/contracts";
import type { AuditRepo } from "../db/repositories/audit.ts";
import type { ChunkMapRepo } from "../db/repositories/chunk-map.ts";
import type { HostsRepo } from "../db/repositories/hosts.ts";
import type { JobsRepo } from "../db/repositories/jobs.ts";
import { ConflictError, InvalidInputError, NotFoundError, PreconditionError } from "../errors.ts";
import type { EventHub } from "../events/hub.ts";
import { buildChunkMap } from "./chunk-map.ts";
import { toMigration } from "./migration-view.ts";

/** Phases after which the VM may already run on the destination: cancelling then would lose writes. */
const POINT_OF_NO_RETURN = new Set(["start_vm", "cleanup", "done"]);

export interface MigrationServiceDeps {
  chunkMaps: Pick<ChunkMapRepo, "rangesOf">;
  jobs: Pick<JobsRepo, "insert" | "get" | "list" | "updateIfState">;
  hosts: Pick<HostsRepo, "get">;
  audit: Pick<AuditRepo, "record">;
  hub: Pick<EventHub, "append">;
  /** Wakes the runner after a job becomes runnable. */
  kick(): void;
  /** Applies a new bandwidth limit to a copy already running. */
  setBandwidth(jobId: number, bytesPerSecond: number | null): void;
}

export function createMigrationService(d: MigrationServiceDeps) {
  const load = (id: number) => {
    const job = d.jobs.get(id);
    if (!job) throw new NotFoundError("migration", id);
    return job;
  };
  const trustedHost = (id: number, role: string) => {
    const host = d.hosts.get(id);
    if (!host) throw new InvalidInputError(`${role} host ${id} does not exist`);
    if (host.status !== "trusted")
      throw new PreconditionError(
        `${role} host "${host.name}" is not trusted (${host.status}): confirm its key fingerprint first`,
      );
    return host;
  };

  return {
    create(input: CreateMigration, actor = "api"): Migration {
      trustedHost(input.source.hostId, "source");
      trustedHost(input.target.hostId, "target");
      const targetLv = input.target.lv ?? input.source.lv;
      if (
        input.source.hostId === input.target.hostId &&
        input.source.vg === input.target.vg &&
        input.source.lv === targetLv
      )
        throw new InvalidInputError("source and target are the same logical volume");
      const job = d.jobs.insert({
        sourceHostId: input.source.hostId,
        sourceVg: input.source.vg,
        sourceLv: input.source.lv,
        targetHostId: input.target.hostId,
        targetVg: input.target.vg,
        targetLv,
        targetThinPool: input.target.thinPool ?? null,
        vm: input.vm,
        cutover: input.cutover ?? "manual",
        options: input.options ?? {},
      });
      d.hub.append(job.id, "job.created", { migration: toMigration(job) });
      d.audit.record(actor, "migration.create", `job:${job.id}`, { source: input.source, target: input.target });
      d.kick();
      return toMigration(job);
    },

    get(id: number): Migration {
      return toMigration(load(id));
    },

    list(q: MigrationListQuery): Migration[] {
      return d.jobs
        .list({ state: q.state, hostId: q.hostId, q: q.q, since: q.since, limit: q.limit ?? 100 })
        .map(toMigration);
    },

    chunkMap(id: number): ChunkMap {
      const job = load(id);
      const size = (job.phaseState as { sizeBytes?: number }).sizeBytes ?? 0;
      return buildChunkMap(d.chunkMaps.rangesOf(id), size, job.phase);
    },

    /** Changes the bandwidth limit, also of a copy that is running now; null removes the limit. */
    setBandwidth(id: number, bytesPerSecond: number | null, actor = "api"): Migration {
      const job = load(id);
      const options = { ...(job.options as MigrationOptions) };
      if (bytesPerSecond === null) delete options.bandwidthLimitBytesPerSecond;
      else options.bandwidthLimitBytesPerSecond = bytesPerSecond;
      const row = d.jobs.updateIfState(id, ["queued", "running", "waiting_cutover", "failed"], { options });
      if (!row) throw new ConflictError(`migration ${id} is ${job.state}: nothing to limit`);
      d.setBandwidth(id, bytesPerSecond);
      d.hub.append(id, "job.log", { level: "info", message: `bandwidth limit ${bytesPerSecond ?? "removed"}` });
      d.audit.record(actor, "migration.bandwidth", `job:${id}`, { bytesPerSecond });
      return toMigration(row);
    },

    /** Confirms a manual cutover; the runner sees the flag in its wait_cutover phase. */
    cutover(id: number, actor = "api"): Migration {
      const job = load(id);
      if (job.state !== "waiting_cutover" && job.state !== "running" && job.state !== "queued")
        throw new ConflictError(`migration ${id} is ${job.state}: nothing to cut over`);
      const row = d.jobs.updateIfState(id, ["queued", "running", "waiting_cutover"], { cutoverRequested: true });
      if (!row) throw new ConflictError(`migration ${id} changed state; try again`);
      d.hub.append(id, "job.log", { level: "info", message: "cutover confirmed by operator" });
      d.audit.record(actor, "migration.cutover", `job:${id}`);
      return toMigration(row);
    },

    cancel(id: number, actor = "api"): Migration {
      const job = load(id);
      if (POINT_OF_NO_RETURN.has(job.phase) && job.state !== "failed")
        throw new ConflictError(`migration ${id} is past cutover (${job.phase}); it can no longer be cancelled`);
      // A failed job has no runner: cancelling it queues the clean-up as a cancelling job.
      const row =
        job.state === "failed"
          ? d.jobs.updateIfState(id, ["failed"], { state: "cancelling", cancelRequested: true })
          : d.jobs.updateIfState(id, ["queued", "running", "waiting_cutover"], { cancelRequested: true });
      if (!row) throw new ConflictError(`migration ${id} is ${job.state}: it cannot be cancelled`);
      d.hub.append(id, "job.log", { level: "warn", message: "cancel requested by operator" });
      d.audit.record(actor, "migration.cancel", `job:${id}`);
      d.kick();
      return toMigration(row);
    },

    /** Re-queues a failed job; it re-enters the phase it failed in, with that phase's stored progress. */
    retry(id: number, actor = "api"): Migration {
      const job = load(id);
      const row = d.jobs.updateIfState(id, ["failed"], { state: "queued", error: null, attempt: job.attempt + 1 });
      if (!row) throw new ConflictError(`migration ${id} is ${job.state}: only failed migrations can be retried`);
      d.hub.append(id, "job.state", { state: "queued", phase: row.phase, retry: row.attempt });
      d.audit.record(actor, "migration.retry", `job:${id}`, { phase: row.phase });
      d.kick();
      return toMigration(row);
    },
  };
}
export type MigrationService = ReturnType<typeof createMigrationService>;

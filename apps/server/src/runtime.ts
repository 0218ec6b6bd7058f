import type { CreateMigration, PrecheckResult } from "@blockferry/contracts";
import type { Config } from "./config.ts";
import { type Db, openDb } from "./db/open.ts";
import { createAuditRepo } from "./db/repositories/audit.ts";
import { createChunkMapRepo } from "./db/repositories/chunk-map.ts";
import { createEventsRepo } from "./db/repositories/events.ts";
import { createHostsRepo } from "./db/repositories/hosts.ts";
import { createJobObjectsRepo } from "./db/repositories/job-objects.ts";
import { createJobsRepo } from "./db/repositories/jobs.ts";
import { EventHub } from "./events/hub.ts";
import { RemoteHosts, type RemoteLogger } from "./hosts/index.ts";
import { createHostRegistry, type HostRegistry } from "./hosts/registry.ts";
import { hostShell } from "./hosts/shell.ts";
import type { HostShell, Mover } from "./jobs/context.ts";
import { createJobExecutor } from "./jobs/execute-job.ts";
import { createMigrationService, type MigrationService } from "./jobs/migration-service.ts";
import { createPhases } from "./jobs/phases/index.ts";
import { runPrechecks } from "./jobs/prechecks.ts";
import { reconcileSnapshots } from "./jobs/reconcile.ts";
import { JobRunner, type RunnerOptions } from "./jobs/runner.ts";

export interface RuntimeOptions {
  logger: RemoteLogger & { error(obj: object, msg: string): void };
  runner?: RunnerOptions;
  /** Builds the transfer engine over the host connections and the database journal. */
  createMover(remote: RemoteHosts, db: Db): Mover;
  snapshotWatchMs?: number;
}

/** Everything the server runs, wired once: repositories, event hub, SSH layer, services and the job runner. */
export interface Runtime {
  db: Db;
  hub: EventHub;
  events: ReturnType<typeof createEventsRepo>;
  remote: RemoteHosts;
  registry: HostRegistry;
  migrations: MigrationService;
  runner: JobRunner;
  prechecks(input: CreateMigration): Promise<PrecheckResult>;
  reconcile(): Promise<void>;
  close(): Promise<void>;
}

export function createRuntime(config: Pick<Config, "dbFile">, opts: RuntimeOptions): Runtime {
  const db = openDb(config.dbFile);
  const events = createEventsRepo(db);
  const hub = new EventHub(events);
  const hostsRepo = createHostsRepo(db);
  const jobs = createJobsRepo(db);
  const objects = createJobObjectsRepo(db);
  const audit = createAuditRepo(db);
  const remote = new RemoteHosts({ logger: opts.logger });
  const registry = createHostRegistry({
    hosts: hostsRepo,
    audit,
    hub,
    remote,
    hasActiveJobs: (id) => jobs.activeOnHost(id).length > 0,
  });
  registry.connectTrusted();

  const mover = opts.createMover(remote, db);
  const { phases, compensate, rollBack } = createPhases({ mover, objects, snapshotWatchMs: opts.snapshotWatchMs });
  const execute = createJobExecutor({
    jobs,
    hub,
    phases,
    compensate,
    rollBack,
    shellFor: async (hostId): Promise<HostShell> => hostShell(remote, registry, hostId),
  });
  const runner = new JobRunner(
    jobs,
    execute,
    (err, job) => opts.logger.error({ err, jobId: job.id }, "job executor crashed"),
    opts.runner,
  );
  const migrations = createMigrationService({
    chunkMaps: createChunkMapRepo(db),
    jobs,
    hosts: hostsRepo,
    audit,
    hub,
    kick: () => runner.kick(),
    interrupt: (id) => runner.interrupt(id),
    setBandwidth: (jobId, bps) => mover.setBandwidth?.(jobId, bps),
  });

  const prechecks = async (input: CreateMigration): Promise<PrecheckResult> => {
    const problems: PrecheckResult["checks"] = [];
    const shellOrProblem = async (hostId: number, role: string): Promise<HostShell | null> => {
      try {
        const shell = hostShell(remote, registry, hostId);
        const health = await registry.health(hostId);
        if (!health.reachable) throw new Error(`${shell.name} is unreachable: ${health.error}`);
        problems.push({
          name: `${role} host`,
          ok: true,
          message: `${shell.name} reachable and trusted (${health.latencyMs} ms)`,
        });
        return shell;
      } catch (err) {
        problems.push({ name: `${role} host`, ok: false, message: (err as Error).message });
        return null;
      }
    };
    const [source, target] = await Promise.all([
      shellOrProblem(input.source.hostId, "source"),
      shellOrProblem(input.target.hostId, "target"),
    ]);
    return runPrechecks(
      {
        source: input.source,
        target: {
          vg: input.target.vg,
          lv: input.target.lv ?? input.source.lv,
          thinPool: input.target.thinPool ?? null,
        },
        options: input.options ?? {},
      },
      { source, target },
      problems,
    );
  };

  /** Drops snapshots orphaned by a crash; hosts that cannot be reached now are skipped (and tried next start). */
  const reconcile = async (): Promise<void> => {
    const shells: HostShell[] = [];
    for (const h of registry.list()) {
      if (h.status !== "trusted") continue;
      const shell = hostShell(remote, registry, h.id);
      if ((await registry.health(h.id)).reachable) shells.push(shell);
    }
    const removed = await reconcileSnapshots(shells, { jobs, objects, hub });
    if (removed) opts.logger.warn({ removed }, "removed leftover snapshots");
  };

  let closed = false;
  return {
    db,
    hub,
    events,
    remote,
    registry,
    migrations,
    runner,
    prechecks,
    reconcile,
    async close() {
      if (closed) return;
      closed = true;
      await runner.stop();
      hub.close();
      await remote.close();
      db.$client.close();
    },
  };
}

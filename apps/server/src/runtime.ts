import { dirname, join } from "node:path";
import type { CreateMigration, PrecheckResult } from "@blockferry/contracts";
import { type Auth, createAuth } from "./auth/index.ts";
import type { SessionPolicy } from "./auth/sessions.ts";
import type { Config } from "./config.ts";
import { type Db, openDb } from "./db/open.ts";
import { createAuditRepo } from "./db/repositories/audit.ts";
import { createChunkMapRepo } from "./db/repositories/chunk-map.ts";
import { createEventsRepo } from "./db/repositories/events.ts";
import { createHostsRepo } from "./db/repositories/hosts.ts";
import { createJobDisksRepo } from "./db/repositories/job-disks.ts";
import { createJobObjectsRepo } from "./db/repositories/job-objects.ts";
import { createJobsRepo } from "./db/repositories/jobs.ts";
import { createTransferJournal } from "./db/repositories/transfer-journal.ts";
import { createWebhooksRepo } from "./db/repositories/webhooks.ts";
import { EventHub } from "./events/hub.ts";
import { RemoteHosts, type RemoteLogger } from "./hosts/index.ts";
import { hostShell } from "./hosts/shell.ts";
import { createHostRegistry, type HostRegistry } from "./hosts/trust/registry.ts";
import type { HostShell, Mover } from "./jobs/context.ts";
import { createDecommissionService, type DecommissionService } from "./jobs/decommission.ts";
import { createJobExecutor } from "./jobs/execute-job.ts";
import { createMigrationHistory, type MigrationHistory } from "./jobs/migration-history.ts";
import { createMigrationService, type MigrationService } from "./jobs/migration-service.ts";
import { createOutageHistory } from "./jobs/outage-history.ts";
import { createPhases } from "./jobs/phases/index.ts";
import { createPrechecksService } from "./jobs/prechecks.ts";
import { createReconciler, sweepDirectAccess } from "./jobs/reconcile.ts";
import { JobRunner, type RunnerOptions } from "./jobs/runner.ts";
import { watchForMetrics } from "./metrics/job-events.ts";
import { createMetrics, type Metrics } from "./metrics/registry.ts";
import type { Keyring } from "./secrets/keyring.ts";
import { resealPrivateKeys, resealWebhookSecrets } from "./secrets/reseal.ts";
import { serverInstance } from "./server-instance.ts";
import { watchForWebhooks } from "./webhooks/notifier.ts";
import { createWebhookService, type WebhookService } from "./webhooks/service.ts";
import { createDeliveryWorker, type DeliveryPolicy, type DeliveryWorker } from "./webhooks/worker.ts";

export interface RuntimeOptions {
  logger: RemoteLogger & { error(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  runner?: RunnerOptions;
  /**
   * Builds the transfer engine over the host connections and the database journal; `onConfirmedBytes` is told of
   * every byte the journal confirms (the bytes-copied metric).
   */
  /** `instance`: this server's instance id (server-instance.ts), for the direct path's access names. */
  createMover(remote: RemoteHosts, db: Db, onConfirmedBytes: (bytes: number) => void, instance: string): Mover;
  /** Webhook retry timing (tests shorten it); defaults in webhooks/worker.ts. */
  webhookPolicy?: Partial<DeliveryPolicy>;
  snapshotWatchMs?: number;
  /** Interval of live change readings (outage prediction) while a job copies or waits; default 5 s. */
  changeReadMs?: number;
  sessionPolicy?: SessionPolicy;
  /** Seals and opens stored secrets (server.ts loads it from secret.key; tests make one). */
  keyring: Keyring;
}

/** Everything the server runs, wired once: repositories, event hub, SSH layer, services and the job runner. */
export interface Runtime {
  db: Db;
  hub: EventHub;
  events: ReturnType<typeof createEventsRepo>;
  audit: ReturnType<typeof createAuditRepo>;
  auth: Auth;
  remote: RemoteHosts;
  registry: HostRegistry;
  /** Settles once every trusted host is registered with the connection manager (keys read, files checked). */
  ready: Promise<void>;
  migrations: MigrationService;
  history: MigrationHistory;
  decommission: DecommissionService;
  runner: JobRunner;
  metrics: Metrics;
  webhooks: WebhookService;
  /** Sends stored webhook deliveries; started by whoever starts the runner (server.ts, tests). */
  webhookWorker: DeliveryWorker;
  prechecks(input: CreateMigration): Promise<PrecheckResult>;
  reconcile(): Promise<void>;
  /** Removes direct-path access left by an earlier process (crash recovery): before the runner starts. */
  sweepDirectAccess(): Promise<number>;
  close(): Promise<void>;
}

/** `keyDir` defaults to `keys/` beside the database (as loadConfig's default is under the data dir). */
export function createRuntime(
  config: Pick<Config, "dbFile"> & Partial<Pick<Config, "keyDir">>,
  opts: RuntimeOptions,
): Runtime {
  const db = openDb(config.dbFile);
  const events = createEventsRepo(db);
  const hub = new EventHub(events);
  const hostsRepo = createHostsRepo(db);
  // Keys stored in the clear (before encryption existed) or under an older key: sealed under the current
  // key, in one transaction, before anything reads them. A key we cannot open stops the boot here.
  let sealed: number;
  try {
    sealed = resealPrivateKeys(hostsRepo, opts.keyring) + resealWebhookSecrets(createWebhooksRepo(db), opts.keyring);
  } catch (err) {
    db.$client.close();
    throw err;
  }
  if (sealed > 0) opts.logger.info({ hosts: sealed, keyId: opts.keyring.keyId }, "stored private keys encrypted");
  const jobs = createJobsRepo(db);
  const objects = createJobObjectsRepo(db);
  const audit = createAuditRepo(db);
  const auth = createAuth(db, audit, { sessionPolicy: opts.sessionPolicy });
  const remote = new RemoteHosts({ logger: opts.logger });
  const registry = createHostRegistry({
    hosts: hostsRepo,
    audit,
    hub,
    remote,
    logger: opts.logger,
    keyring: opts.keyring,
    keyDir: config.keyDir ?? join(dirname(config.dbFile), "keys"),
  });
  const ready = registry.connectTrusted().then((failed) => {
    for (const f of failed) opts.logger.error({ hostId: f.hostId }, f.error);
  });
  const shellFor = (hostId: number): HostShell => hostShell(remote, registry, hostId);

  const metrics = createMetrics({
    countByState: () => jobs.countByState(),
    openSshConnections: () => remote.openConnections(),
  });
  const unwatchMetrics = watchForMetrics(hub, metrics);
  const instance = serverInstance(config.dbFile);
  const mover = opts.createMover(remote, db, (bytes) => metrics.bytesCopied("relay", bytes), instance);
  const journal = createTransferJournal(db);
  const jobDisks = createJobDisksRepo(db);
  const { phases, compensate, rollBack, discardCopies } = createPhases({
    mover,
    objects,
    disks: jobDisks,
    forgetCopies: (jobId, leaseOwner) => journal.leased(leaseOwner).forgetJob(jobId),
    snapshotWatchMs: opts.snapshotWatchMs,
    changeReadMs: opts.changeReadMs,
    outageHistory: createOutageHistory({ jobs, events }),
    logger: opts.logger,
  });
  const execute = createJobExecutor({
    jobs,
    hub,
    phases,
    compensate,
    rollBack,
    discardCopies,
    shellFor: async (hostId) => shellFor(hostId),
  });
  const runner = new JobRunner(
    jobs,
    execute,
    (err, job) => opts.logger.error({ err, jobId: job.id }, "job executor crashed"),
    {
      ...opts.runner,
      onWaiting: (job, reason) => hub.append(job.id, "job.log", { level: "info", message: reason, phase: job.phase }),
    },
  );
  const chunkMaps = createChunkMapRepo(db);
  const migrations = createMigrationService({
    chunkMaps,
    jobs,
    hosts: hostsRepo,
    audit,
    hub,
    kick: () => runner.kick(),
    interrupt: (id) => runner.interrupt(id),
    updateOptions: (jobId, options) => runner.updateOptions(jobId, options),
  });

  const history = createMigrationHistory({ jobs, events, journal: chunkMaps, objects, hosts: hostsRepo });
  const decommission = createDecommissionService({ jobs, disks: jobDisks, audit, hub, shellFor });
  const webhooksRepo = createWebhooksRepo(db);
  const webhooks = createWebhookService({ repo: webhooksRepo, keyring: opts.keyring, audit });
  const webhookWorker = createDeliveryWorker({
    repo: webhooksRepo,
    keyring: opts.keyring,
    logger: opts.logger,
    policy: opts.webhookPolicy,
  });
  const unwatchWebhooks = watchForWebhooks({
    hub,
    repo: webhooksRepo,
    jobs,
    kick: () => webhookWorker.kick(),
    logger: opts.logger,
  });

  const prechecks = createPrechecksService({ registry, shellFor });
  const reconcile = createReconciler({ registry, shellFor, jobs, objects, hub, logger: opts.logger });

  let closed = false;
  return {
    db,
    hub,
    events,
    audit,
    auth,
    remote,
    registry,
    ready,
    migrations,
    history,
    decommission,
    runner,
    metrics,
    webhooks,
    webhookWorker,
    prechecks,
    reconcile,
    sweepDirectAccess: () => sweepDirectAccess({ registry, shellFor, audit, logger: opts.logger, instance }),
    async close() {
      if (closed) return;
      closed = true;
      await runner.stop();
      unwatchWebhooks();
      unwatchMetrics();
      await webhookWorker.close();
      hub.close();
      await remote.close();
      db.$client.close();
    },
  };
}

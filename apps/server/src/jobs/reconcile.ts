import { ACTIVE_JOB_STATES, type JobState } from "@blockferry/contracts/vocabulary";
import { BLOCKFERRY_TAG, jobTag, lvsCommand, parseLvsReport } from "@blockferry/lvm";
import type { AuditRepo } from "../db/repositories/audit.ts";
import type { JobObjectsRepo } from "../db/repositories/job-objects.ts";
import type { JobsRepo } from "../db/repositories/jobs.ts";
import type { EventHub } from "../events/hub.ts";
import type { HostRegistry } from "../hosts/trust/registry.ts";
import { sweepMigrationLeftovers } from "../transfer/direct/access.ts";
import type { HostShell } from "./context.ts";
import { removeLvIfPresent } from "./lvm-ops.ts";

const SNAPSHOT_NAME = /^bf-(\d+)-(?:d\d+-)?s\d+$/;
/** Jobs whose snapshots stay: active ones (a rollback removes its own; a retry takes new ones). */
const KEEPS_SNAPSHOTS = new Set<JobState>(ACTIVE_JOB_STATES);

/**
 * At startup: snapshots we created for jobs that are over (or that this database does not know) are dropped,
 * so a crash between "job finished" and "snapshot removed" orphans nothing. Only LVs that carry our tag AND our
 * snapshot naming are touched; target LVs are data and are never removed here.
 */
export async function reconcileSnapshots(
  shells: HostShell[],
  deps: {
    jobs: Pick<JobsRepo, "get">;
    objects: Pick<JobObjectsRepo, "allLive" | "markRemoved">;
    hub: Pick<EventHub, "append">;
  },
): Promise<number> {
  let removed = 0;
  for (const shell of shells) {
    const lvs = parseLvsReport(await shell.run(lvsCommand({ tag: BLOCKFERRY_TAG })));
    for (const lv of lvs) {
      const m = SNAPSHOT_NAME.exec(lv.name);
      if (!m || (lv.kind !== "snapshot" && !lv.origin)) continue;
      const jobId = Number(m[1]);
      if (!lv.tags.includes(jobTag(jobId))) continue;
      const job = deps.jobs.get(jobId);
      if (job && KEEPS_SNAPSHOTS.has(job.state)) continue;
      await removeLvIfPresent(shell, lv.vg, lv.name);
      removed++;
      deps.hub.append(job ? jobId : null, "job.log", {
        level: "warn",
        message: `removed leftover snapshot ${lv.vg}/${lv.name} on ${shell.name}`,
      });
    }
  }
  for (const o of deps.objects.allLive()) {
    const job = deps.jobs.get(o.jobId);
    if (o.kind === "snapshot" && job && !KEEPS_SNAPSHOTS.has(job.state)) deps.objects.markRemoved(o.id);
  }
  return removed;
}

/**
 * The startup reconciliation over every trusted host: hosts that cannot be reached now are skipped (and tried
 * at the next start).
 */
export function createReconciler(deps: {
  registry: Pick<HostRegistry, "list" | "health">;
  shellFor(hostId: number): HostShell;
  jobs: Pick<JobsRepo, "get">;
  objects: Pick<JobObjectsRepo, "allLive" | "markRemoved">;
  hub: Pick<EventHub, "append">;
  logger: { warn(obj: object, msg: string): void };
}): () => Promise<void> {
  return async () => {
    const shells: HostShell[] = [];
    for (const h of deps.registry.list()) {
      if (h.status !== "trusted") continue;
      const shell = deps.shellFor(h.id);
      if ((await deps.registry.health(h.id)).reachable) shells.push(shell);
    }
    const removed = await reconcileSnapshots(shells, deps);
    if (removed) deps.logger.warn({ removed }, "removed leftover snapshots");
  };
}

/** How long the startup sweep waits for one host: one that does not answer by then is swept at the next start. */
const SWEEP_TIMEOUT_MS = 15_000;

/**
 * At startup, before any job resumes: removes every direct-path access of ours (authorized_keys lines, source key
 * directories) from every trusted host that answers, all hosts at once. No copy runs yet, so every one is a
 * leftover of the previous process; a resumed copy grants itself a fresh key. A host that fails or does not
 * answer in time is logged and skipped: it must not hold up the start. Returns the number of grants removed.
 */
export async function sweepDirectAccess(
  deps: {
    registry: Pick<HostRegistry, "list">;
    shellFor(hostId: number): Pick<HostShell, "name" | "run">;
    audit: Pick<AuditRepo, "record">;
    logger: { warn(obj: object, msg: string): void };
    /** This server's instance id: only its own leftovers (and legacy ones) are swept. */
    instance?: string;
  },
  timeoutMs = SWEEP_TIMEOUT_MS,
): Promise<number> {
  const swept = await Promise.all(
    deps.registry
      .list()
      .filter((h) => h.status === "trusted")
      .map(async (h) => {
        const stop = new AbortController();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new Error(`no answer within ${timeoutMs} ms`);
            stop.abort(error);
            reject(error);
          }, timeoutMs);
        });
        try {
          const shell = deps.shellFor(h.id);
          const host = {
            name: shell.name,
            exec: async (command: string) => ({
              stdout: await shell.run(command, { timeoutMs, signal: stop.signal }),
            }),
          };
          return (await Promise.race([sweepMigrationLeftovers(deps, host, new Set(), deps.instance), deadline])).length;
        } catch (err) {
          deps.logger.warn({ err, hostId: h.id }, `could not sweep direct-path leftovers on ${h.name}`);
          return 0;
        } finally {
          clearTimeout(timer);
        }
      }),
  );
  return swept.reduce((a, b) => a + b, 0);
}

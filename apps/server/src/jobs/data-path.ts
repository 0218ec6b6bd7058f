// Which way a copy's bytes travel (options.dataPath), decided per copy: "relay" through this server, "direct"
// from host to host (transfer/direct/), "auto" direct when its prechecks pass, else the relay with the reason.
import type { ExtentMap } from "@blockferry/changes";
import type { DataPath } from "@blockferry/contracts";
import { directReceiveCommand } from "@blockferry/lvm";
import type { AuditRepo } from "../db/repositories/audit.ts";
import type { HostRow } from "../db/repositories/hosts.ts";
import type { RemoteHosts } from "../hosts/index.ts";
import { type AccessHost, grantMigrationAccess, revokeMigrationAccess } from "../transfer/direct/access.ts";
import type { DirectPath } from "../transfer/direct/batch.ts";
import { SFTP_RUN_BYTES } from "../transfer/sftp-batch.ts";
import { DirectPathUnavailableError, migrationEndpoint, type ProbedHost, probeDirectPath } from "./direct-probe.ts";

export { DirectPathUnavailableError, migrationEndpoint } from "./direct-probe.ts";

export interface DataPathDeps {
  remote: Pick<RemoteHosts, "exec">;
  hosts: { get(id: number): HostRow | undefined };
  audit: Pick<AuditRepo, "record">;
  /** This server's instance id (server-instance.ts): names its access on the hosts. */
  instance?: string;
  /** Runs each host's access commands one at a time (hostQueue()); absent, they run as they come. */
  accessEdits?: HostQueue;
}

/** Runs `work` for a host after every earlier work of that host has settled, whatever its outcome. */
export type HostQueue = <T>(hostId: number, work: () => Promise<T>) => Promise<T>;

/**
 * One queue per host. A set's disks grant and revoke their access at once (their copies start together, and equal
 * copies end together), and each grant or revoke rewrites the host's authorized_keys (grep -v into one temp file,
 * then mv): two at once failed the second mv, or put back a line the other had just removed, or dropped the line
 * the other had just added.
 */
export function hostQueue(): HostQueue {
  const tails = new Map<number, Promise<void>>();
  return (hostId, work) => {
    const result = (tails.get(hostId) ?? Promise.resolve()).then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    tails.set(hostId, tail);
    // The last one out forgets the host: the map holds hosts with work queued, not every host ever seen.
    void tail.then(() => tails.get(hostId) === tail && tails.delete(hostId));
    return result;
  };
}

export interface OpenedPath {
  ran: "direct" | "relay";
  /** `src to dst at host:port`: the source-to-target link, for messages. */
  link?: string;
  /** Why auto took the relay. */
  reason?: string;
  direct?: DirectPath;
  /** Removes the migration's access again (a no-op for the relay). */
  close(why: string): Promise<void>;
}

const probedHost = (d: DataPathDeps, row: HostRow): ProbedHost => ({
  row,
  run: async (command, o) => (await d.remote.exec(row.id, command, { timeoutMs: o.timeoutMs })).stdout,
});

/**
 * Bound of each precheck command: they answer in about a second when the path is there (and a refused port
 * answers at once; the address probe gives up after 10 s), so auto never waits long to take the relay.
 */
export const PRECHECK_TIMEOUT_MS = 20_000;

const accessHost = (d: DataPathDeps, row: HostRow): AccessHost => ({
  name: row.name,
  exec: (command, o = {}) => {
    const run = () => d.remote.exec(row.id, command, { stdin: o.stdin, timeoutMs: o.timeoutMs ?? 60_000 });
    return d.accessEdits ? d.accessEdits(row.id, run) : run();
  },
});

/**
 * Prechecks (direct-probe.ts: the target's pinned host key read over the pinned connection, the source reaching
 * the target's migration address and seeing that key there, a hash tool both have), then the per-migration key.
 */
async function openDirect(
  d: DataPathDeps,
  r: { jobId: number; disk?: number | undefined; sourceHostId: number; targetHostId: number; targetDevice: string },
): Promise<OpenedPath> {
  const source = d.hosts.get(r.sourceHostId);
  const target = d.hosts.get(r.targetHostId);
  if (!source || !target?.pinnedFingerprint) throw new DirectPathUnavailableError("hosts not trusted");
  const { endpoint, hostKey, hash } = await probeDirectPath(probedHost(d, source), probedHost(d, target), {
    timeoutMs: PRECHECK_TIMEOUT_MS,
  });
  // Per disk: a set's disks copy at once, each into its own device, so each has a key of its own.
  const owner = { jobId: r.jobId, instance: d.instance, disk: r.disk };
  const access = await grantMigrationAccess(d, {
    ...owner,
    source: accessHost(d, source),
    target: accessHost(d, target),
    targetEndpoint: { ...endpoint, user: target.username },
    targetHostKey: hostKey,
    sourceHost: migrationEndpoint(source).host,
    receiveCommand: directReceiveCommand({ ...owner, device: r.targetDevice, hash }),
  });
  return {
    ran: "direct",
    link: `${source.name} to ${target.name} at ${endpoint.host}:${endpoint.port}`,
    direct: { ...owner, sshCommand: access.sshCommand, hash },
    close: (why) =>
      revokeMigrationAccess(d, { ...owner, source: accessHost(d, source), target: accessHost(d, target) }, why),
  };
}

export const relayPath = (reason?: string): OpenedPath => ({
  ran: "relay",
  ...(reason ? { reason } : {}),
  close: async () => undefined,
});

/** Decides and sets up the data path of one copy. */
export async function openDataPath(
  d: DataPathDeps,
  r: {
    jobId: number;
    disk?: number | undefined;
    dataPath: DataPath;
    sourceHostId: number;
    targetHostId: number;
    targetDevice: string;
  },
): Promise<OpenedPath> {
  if (r.dataPath === "relay") return relayPath();
  try {
    return await openDirect(d, r);
  } catch (error) {
    if (r.dataPath === "direct") throw error;
    return relayPath(`direct path not available: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Why auto sends an extent copy through the relay without setting the direct path up (the job log's words). */
export const SMALL_RUNS_REASON = "small scattered runs: the relay's SFTP is faster";

/**
 * Auto's choice for an extent copy (catch-up passes, the final delta with the VM stopped), made before any host
 * is asked: runs as small on average as those the relay sends over SFTP (the engine's `sftpRunBytes` rule) go
 * through the relay, because the direct path costs its setup (probe and key grant: seconds to tens of seconds on
 * a loaded host) and processes per run, while SFTP has neither. Returns the reason, or null to try direct.
 */
export function relayForSmallRuns(
  wanted: DataPath,
  extents: Pick<ExtentMap, "runCount" | "chunkCount">,
  chunkBytes: number,
  sftpRunBytes = SFTP_RUN_BYTES,
): string | null {
  if (wanted !== "auto") return null;
  if (extents.runCount === 0) return SMALL_RUNS_REASON;
  return (extents.chunkCount * chunkBytes) / extents.runCount < sftpRunBytes ? SMALL_RUNS_REASON : null;
}

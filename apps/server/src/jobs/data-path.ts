// Which way a copy's bytes travel (options.dataPath), decided per copy: "relay" through this server, "direct"
// from host to host (transfer/direct/), "auto" direct when its prechecks pass, else the relay with the reason.
import { createHash } from "node:crypto";
import type { DataPath } from "@blockferry/contracts";
import {
  HASH_TOOL_PROBE_COMMAND,
  type HashTool,
  probeMigrationAddressCommand,
  receiveRecordsCommand,
} from "@blockferry/lvm";
import type { AuditRepo } from "../db/repositories/audit.ts";
import type { HostRow } from "../db/repositories/hosts.ts";
import type { RemoteHosts } from "../hosts/index.ts";
import { type AccessHost, grantMigrationAccess, revokeMigrationAccess } from "../transfer/direct/access.ts";
import type { DirectPath } from "../transfer/direct/batch.ts";

export interface DataPathDeps {
  remote: Pick<RemoteHosts, "exec">;
  hosts: { get(id: number): HostRow | undefined };
  audit: Pick<AuditRepo, "record">;
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

/** A direct path that cannot be set up: `direct` fails the copy with it, `auto` falls back to the relay. */
export class DirectPathUnavailableError extends Error {
  override readonly name = "DirectPathUnavailableError";
}

/** `host[:port]`, `[v6]:port`: the host and port other hypervisors reach a host at. */
export function migrationEndpoint(row: Pick<HostRow, "address" | "port" | "migrationAddress">): {
  host: string;
  port: number;
} {
  const text = row.migrationAddress;
  if (!text) return { host: row.address, port: row.port };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new DirectPathUnavailableError(`migration address ${JSON.stringify(text)} is not host[:port]`);
  return { host: (m[1] ?? m[2]) as string, port: m[3] ? Number(m[3]) : 22 };
}

const fingerprintOfLine = (line: string) => {
  const blob = Buffer.from(line.split(" ")[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
};

/**
 * Bound of each precheck command: they answer in about a second when the path is there (and a refused port
 * answers at once; the address probe gives up after 10 s), so auto never waits long to take the relay.
 */
const PRECHECK_TIMEOUT_MS = 20_000;

const accessHost = (d: DataPathDeps, row: HostRow): AccessHost => ({
  name: row.name,
  exec: (command, o = {}) => d.remote.exec(row.id, command, { stdin: o.stdin, timeoutMs: o.timeoutMs ?? 60_000 }),
});

/**
 * Prechecks and access for the direct path: the target's pinned host key (read over the pinned connection,
 * checked against the pin), the source reaching the target's migration address and seeing that key there, a
 * hash tool both have; then the per-migration key.
 */
async function openDirect(
  d: DataPathDeps,
  r: { jobId: number; sourceHostId: number; targetHostId: number; targetDevice: string },
): Promise<OpenedPath> {
  const source = d.hosts.get(r.sourceHostId);
  const target = d.hosts.get(r.targetHostId);
  if (!source || !target?.pinnedFingerprint) throw new DirectPathUnavailableError("hosts not trusted");
  const endpoint = migrationEndpoint(target);
  const check = (hostId: number, command: string) => d.remote.exec(hostId, command, { timeoutMs: PRECHECK_TIMEOUT_MS });
  // Independent reads at once: each round trip to a host is latency the copy (or the final pass) waits for.
  const [keys, sourceTool, targetTool] = await Promise.all([
    check(target.id, "cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null || true"),
    ...[source, target].map(async (row) => (await check(row.id, HASH_TOOL_PROBE_COMMAND)).stdout.trim()),
  ]);
  const hostKey = keys.stdout
    .split("\n")
    .map((line) => line.trim().split(" ").slice(0, 2).join(" "))
    .find((line) => line.length > 0 && fingerprintOfLine(line) === target.pinnedFingerprint);
  if (!hostKey)
    throw new DirectPathUnavailableError(`${target.name} has no host key file matching its pinned fingerprint`);
  const seen = (
    await check(source.id, probeMigrationAddressCommand({ ...endpoint, publicKey: hostKey }))
  ).stdout.trim();
  if (seen !== "ok")
    throw new DirectPathUnavailableError(
      seen === "unreachable"
        ? `${source.name} cannot reach ${target.name} at its migration address ${endpoint.host}:${endpoint.port}`
        : `${source.name} sees another host key than ${target.name}'s pinned one at ${endpoint.host}:${endpoint.port}`,
    );
  const hash: HashTool = sourceTool === targetTool && targetTool === "openssl-sha256" ? "openssl-sha256" : "b2sum";
  if (sourceTool === "none" || targetTool === "none")
    throw new DirectPathUnavailableError("a host has neither openssl nor b2sum to prove its bytes");
  const access = await grantMigrationAccess(d, {
    jobId: r.jobId,
    source: accessHost(d, source),
    target: accessHost(d, target),
    targetEndpoint: { ...endpoint, user: target.username },
    targetHostKey: hostKey,
    sourceHost: migrationEndpoint(source).host,
    receiveCommand: receiveRecordsCommand({ device: r.targetDevice, hash }),
  });
  return {
    ran: "direct",
    link: `${source.name} to ${target.name} at ${endpoint.host}:${endpoint.port}`,
    direct: { jobId: r.jobId, sshCommand: access.sshCommand, hash },
    close: (why) =>
      revokeMigrationAccess(d, { jobId: r.jobId, source: accessHost(d, source), target: accessHost(d, target) }, why),
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
  r: { jobId: number; dataPath: DataPath; sourceHostId: number; targetHostId: number; targetDevice: string },
): Promise<OpenedPath> {
  if (r.dataPath === "relay") return relayPath();
  try {
    return await openDirect(d, r);
  } catch (error) {
    if (r.dataPath === "direct") throw error;
    return relayPath(`direct path not available: ${error instanceof Error ? error.message : String(error)}`);
  }
}

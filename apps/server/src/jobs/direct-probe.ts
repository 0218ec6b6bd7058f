// The direct path's prechecks, without granting anything: the target's pinned host key, the source reaching the
// target's migration address and seeing that key there, a hash tool both have. The copy (data-path.ts) runs them
// before it installs the per-migration key; the dry-run prechecks run them with short timeouts.

import { parseMigrationAddress } from "@blockferry/contracts";
import { HASH_TOOL_PROBE_COMMAND, type HashTool, probeMigrationAddressCommand } from "@blockferry/lvm";
import type { HostRow } from "../db/repositories/hosts.ts";
import { fingerprintOfKeyLine } from "../hosts/index.ts";

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
  const parsed = parseMigrationAddress(text);
  if (!parsed.ok) throw new DirectPathUnavailableError(parsed.problem);
  return { host: parsed.host, port: parsed.port };
}

/** One host as the probe needs it: its row and a way to run a command there (stdout). */
export interface ProbedHost {
  row: Pick<HostRow, "name" | "address" | "port" | "migrationAddress" | "pinnedFingerprint">;
  run(command: string, o: { timeoutMs: number; signal?: AbortSignal }): Promise<string>;
}

export interface DirectProbe {
  endpoint: { host: string; port: number };
  /** The target's pinned host key (`type base64`), as the source saw it at the endpoint. */
  hostKey: string;
  hash: HashTool;
}

/**
 * Throws DirectPathUnavailableError with the reason an operator can act on. `timeoutMs` bounds each command,
 * `scanSeconds` ssh-keyscan's wait for the migration address (default: the lvm builder's 10 s, which a loaded
 * host's key exchange needs).
 */
export async function probeDirectPath(
  source: ProbedHost,
  target: ProbedHost,
  o: { timeoutMs?: number; scanSeconds?: number; signal?: AbortSignal } = {},
): Promise<DirectProbe> {
  const run = { timeoutMs: o.timeoutMs ?? 60_000, signal: o.signal };
  if (!target.row.pinnedFingerprint) throw new DirectPathUnavailableError(`${target.row.name} is not trusted`);
  const endpoint = migrationEndpoint(target.row);
  // Independent reads at once: each round trip to a host is latency the copy (or the final pass) waits for.
  const [keys, sourceTool, targetTool] = await Promise.all([
    target.run("cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null || true", run),
    ...[source, target].map(async (host) => (await host.run(HASH_TOOL_PROBE_COMMAND, run)).trim()),
  ]);
  const hostKey = keys
    .split("\n")
    .map((line) => line.trim().split(" ").slice(0, 2).join(" "))
    .find((line) => line.length > 0 && fingerprintOfKeyLine(line) === target.row.pinnedFingerprint);
  if (!hostKey)
    throw new DirectPathUnavailableError(`${target.row.name} has no host key file matching its pinned fingerprint`);
  const probe = probeMigrationAddressCommand({ ...endpoint, publicKey: hostKey, timeoutSeconds: o.scanSeconds });
  const seen = (await source.run(probe, run)).trim();
  // Worded as the job log has said it since the direct path came (the lab tests read these words).
  const at = `${endpoint.host}:${endpoint.port}`;
  if (seen !== "ok")
    throw new DirectPathUnavailableError(
      seen === "unreachable"
        ? `${source.row.name} cannot reach ${target.row.name} at its migration address ${at}`
        : `${source.row.name} sees another host key than ${target.row.name}'s pinned one at ${at}`,
    );
  if (sourceTool === "none" || targetTool === "none")
    throw new DirectPathUnavailableError("a host has neither openssl nor b2sum to prove its bytes");
  const hash: HashTool = sourceTool === targetTool && targetTool === "openssl-sha256" ? "openssl-sha256" : "b2sum";
  return { endpoint, hostKey, hash };
}

// Per-migration SSH access from the source host to the target host: made when a direct copy starts, removed
// when the migration ends (success, failure, cancel) and by crash recovery. The server makes the key pair; the
// private half goes only to the source (stdin, never command text or logs), the public half only into the
// target's authorized_keys, restricted to the receive side of this migration's target device.

import {
  authorizedKeyLine,
  directSshCommand,
  installAuthorizedKeyCommand,
  isIpLiteral,
  knownHostsLine,
  leftoverMigrationsCommand,
  type MigrationEndpoint,
  type MigrationOwner,
  migrationDir,
  migrationMarker,
  removeSourceAccessCommand,
  removeTargetAccessCommand,
  type ServerInstance,
  trackedReceiveCommand,
  writeSourceAccessCommand,
} from "@blockferry/lvm";
import ssh2 from "ssh2";
import { type AuditRepo, SYSTEM } from "../../db/repositories/audit.ts";
import { fingerprintOfKeyLine } from "../../hosts/index.ts";

/** What access needs of a host: one command with optional stdin (a hosts-layer connection, in practice). */
export interface AccessHost {
  /** For messages and the audit log only. */
  readonly name: string;
  exec(command: string, options?: { stdin?: string; timeoutMs?: number }): Promise<{ stdout: string }>;
}

export interface AccessDeps {
  audit: Pick<AuditRepo, "record">;
}

export interface GrantRequest {
  jobId: number;
  /** This server's instance id: in the key's marker and the source directory's name (see direct-commands). */
  instance?: ServerInstance;
  /** The disk of a set whose copy this is: each disk has access of its own (see MigrationOwner). */
  disk?: number | undefined;
  source: AccessHost;
  target: AccessHost;
  /** Where the source reaches the target's sshd (its migration address), and as whom. */
  targetEndpoint: MigrationEndpoint;
  /** The target's pinned host key (`TYPE BASE64`), checked against the pin before it gets here. */
  targetHostKey: string;
  /** The source's migration host: becomes `from=` when it is an IP literal (sshd here matches addresses only). */
  sourceHost?: string;
  /** The one command the key may run on the target: the receive side for this migration's target device. */
  receiveCommand: string;
}

export interface MigrationAccess {
  jobId: number;
  /** The source's migration-private directory. */
  sourceDir: string;
  /** Run on the source, this reaches the target's forced command (stdin in, its output out). */
  sshCommand: string;
  /** SHA256 fingerprint of the migration key, as audited. */
  keyFingerprint: string;
}

/**
 * Makes a fresh ed25519 key pair, installs its public half on the target (replacing an earlier one of the same
 * job) and its private half with the pinned known_hosts on the source. On a failure half-way, whatever was
 * installed is removed again before the error propagates.
 */
export async function grantMigrationAccess(d: AccessDeps, r: GrantRequest): Promise<MigrationAccess> {
  const owner: MigrationOwner = { jobId: r.jobId, instance: r.instance, disk: r.disk };
  const pair = ssh2.utils.generateKeyPairSync("ed25519", { comment: migrationMarker(r.jobId, r.instance, r.disk) });
  const publicKey = pair.public.split(" ").slice(0, 2).join(" ");
  const from = r.sourceHost !== undefined && isIpLiteral(r.sourceHost) ? r.sourceHost : undefined;
  // Tracked: the receive side records its pid where revoking finds it (a cut link leaves it waiting otherwise).
  const forcedCommand = trackedReceiveCommand({ ...owner, receive: r.receiveCommand });
  const line = authorizedKeyLine({ ...owner, publicKey, forcedCommand, from });
  const known = knownHostsLine({
    host: r.targetEndpoint.host,
    port: r.targetEndpoint.port,
    publicKey: r.targetHostKey,
  });
  const access: MigrationAccess = {
    jobId: r.jobId,
    sourceDir: migrationDir(r.jobId, r.instance, r.disk),
    sshCommand: directSshCommand({ ...owner, target: r.targetEndpoint }),
    keyFingerprint: fingerprintOfKeyLine(publicKey),
  };
  try {
    // Both halves at once (one round trip of latency, not two); a failure of either removes both below.
    const installed = await Promise.allSettled([
      r.target.exec(installAuthorizedKeyCommand(owner), { stdin: `${line}\n` }),
      r.source.exec(writeSourceAccessCommand({ ...owner, knownHosts: known }), { stdin: pair.private }),
    ]);
    const failed = installed.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await revokeMigrationAccess(d, { ...owner, source: r.source, target: r.target }, "grant failed").catch(
      () => undefined,
    );
    throw error;
  }
  d.audit.record(SYSTEM, "migration.direct_access_grant", `job:${r.jobId}`, {
    source: r.source.name,
    target: r.target.name,
    targetAddress: `${r.targetEndpoint.host}:${r.targetEndpoint.port}`,
    from: from ?? null,
    keyFingerprint: access.keyFingerprint,
    ...(r.disk ? { disk: r.disk } : {}),
  });
  return access;
}

/**
 * Removes the job's key line from the target and ends its receive sides there (one left waiting by a lost link
 * would otherwise live until sshd drops its session), and its directory from the source (all idempotent).
 */
export async function revokeMigrationAccess(
  d: AccessDeps,
  r: MigrationOwner & { source: AccessHost; target: AccessHost },
  reason: string,
): Promise<void> {
  const owner: MigrationOwner = { jobId: r.jobId, instance: r.instance, disk: r.disk };
  // The target first: its receive sides are found through the directory, which on a migration within one host
  // is also the source's. Both removals are attempted even when one host fails; the first failure is reported.
  const results = [
    ...(await Promise.allSettled([r.target.exec(removeTargetAccessCommand(owner))])),
    ...(await Promise.allSettled([r.source.exec(removeSourceAccessCommand(owner))])),
  ];
  const failed = results.find((result) => result.status === "rejected");
  d.audit.record(SYSTEM, "migration.direct_access_revoke", `job:${r.jobId}`, {
    source: r.source.name,
    target: r.target.name,
    reason,
    complete: failed === undefined,
    ...(r.disk ? { disk: r.disk } : {}),
  });
  if (failed) throw failed.reason;
}

/** A leftover's tag as leftoverMigrationsCommand lists it: `INSTANCE-JOB` or the legacy `JOB`, then `-dDISK`. */
const LEFTOVER = /^(?:([0-9a-f]{8})-)?([1-9]\d{0,15})(?:-d([1-9]\d{0,3}))?$/;

/**
 * Crash recovery on one host: removes the leftovers (key lines and source directories) of this server
 * instance's jobs not in `activeJobIds`, and those under the legacy names without an instance; another
 * instance's are left alone. Returns the job ids it cleaned.
 */
export async function sweepMigrationLeftovers(
  d: AccessDeps,
  host: AccessHost,
  activeJobIds: ReadonlySet<number>,
  instance?: ServerInstance,
): Promise<number[]> {
  const { stdout } = await host.exec(leftoverMigrationsCommand({ instance }));
  const stale = new Map<string, MigrationOwner>();
  for (const line of stdout.split("\n")) {
    const m = LEFTOVER.exec(line);
    if (!m || (m[1] !== undefined && m[1] !== instance)) continue;
    const jobId = Number(m[2]);
    if (!activeJobIds.has(jobId))
      stale.set(line, { jobId, instance: m[1], ...(m[3] === undefined ? {} : { disk: Number(m[3]) }) });
  }
  for (const owner of stale.values()) {
    // Either role: the target's removal ends receive sides and removes the directory the source side also uses.
    await host.exec(removeTargetAccessCommand(owner));
    d.audit.record(SYSTEM, "migration.direct_access_sweep", `job:${owner.jobId}`, {
      host: host.name,
      ...(owner.disk ? { disk: owner.disk } : {}),
      ...(owner.instance === undefined && { legacy: true }),
    });
  }
  return [...new Set([...stale.values()].map((o) => o.jobId))].sort((a, b) => a - b);
}

// Per-migration SSH access from the source host to the target host: made when a direct copy starts, removed
// when the migration ends (success, failure, cancel) and by crash recovery. The server makes the key pair; the
// private half goes only to the source (stdin, never command text or logs), the public half only into the
// target's authorized_keys, restricted to the receive side of this migration's target device.
import { createHash } from "node:crypto";
import {
  authorizedKeyLine,
  directSshCommand,
  installAuthorizedKeyCommand,
  isIpLiteral,
  knownHostsLine,
  leftoverMigrationsCommand,
  type MigrationEndpoint,
  migrationDir,
  removeAuthorizedKeyCommand,
  removeSourceAccessCommand,
  writeSourceAccessCommand,
} from "@blockferry/lvm";
import ssh2 from "ssh2";
import { type AuditRepo, SYSTEM } from "../../db/repositories/audit.ts";

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

const fingerprint = (publicKey: string) => {
  const blob = Buffer.from(publicKey.split(" ")[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
};

/**
 * Makes a fresh ed25519 key pair, installs its public half on the target (replacing an earlier one of the same
 * job) and its private half with the pinned known_hosts on the source. On a failure half-way, whatever was
 * installed is removed again before the error propagates.
 */
export async function grantMigrationAccess(d: AccessDeps, r: GrantRequest): Promise<MigrationAccess> {
  const pair = ssh2.utils.generateKeyPairSync("ed25519", { comment: `blockferry-migration-${r.jobId}` });
  const publicKey = pair.public.split(" ").slice(0, 2).join(" ");
  const from = r.sourceHost !== undefined && isIpLiteral(r.sourceHost) ? r.sourceHost : undefined;
  const line = authorizedKeyLine({ jobId: r.jobId, publicKey, forcedCommand: r.receiveCommand, from });
  const known = knownHostsLine({
    host: r.targetEndpoint.host,
    port: r.targetEndpoint.port,
    publicKey: r.targetHostKey,
  });
  const access: MigrationAccess = {
    jobId: r.jobId,
    sourceDir: migrationDir(r.jobId),
    sshCommand: directSshCommand({ jobId: r.jobId, target: r.targetEndpoint }),
    keyFingerprint: fingerprint(publicKey),
  };
  try {
    // Both halves at once (one round trip of latency, not two); a failure of either removes both below.
    const installed = await Promise.allSettled([
      r.target.exec(installAuthorizedKeyCommand({ jobId: r.jobId }), { stdin: `${line}\n` }),
      r.source.exec(writeSourceAccessCommand({ jobId: r.jobId, knownHosts: known }), { stdin: pair.private }),
    ]);
    const failed = installed.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  } catch (error) {
    await revokeMigrationAccess(d, { jobId: r.jobId, source: r.source, target: r.target }, "grant failed").catch(
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
  });
  return access;
}

/** Removes the job's key line from the target and its directory from the source (both idempotent). */
export async function revokeMigrationAccess(
  d: AccessDeps,
  r: { jobId: number; source: AccessHost; target: AccessHost },
  reason: string,
): Promise<void> {
  // Both removals are attempted even when one host fails; the first failure is reported after.
  const results = await Promise.allSettled([
    r.target.exec(removeAuthorizedKeyCommand({ jobId: r.jobId })),
    r.source.exec(removeSourceAccessCommand({ jobId: r.jobId })),
  ]);
  const failed = results.find((result) => result.status === "rejected");
  d.audit.record(SYSTEM, "migration.direct_access_revoke", `job:${r.jobId}`, {
    source: r.source.name,
    target: r.target.name,
    reason,
    complete: failed === undefined,
  });
  if (failed) throw failed.reason;
}

/**
 * Crash recovery on one host: removes the leftovers (key lines and source directories) of every job not in
 * `activeJobIds`. Returns the job ids it cleaned.
 */
export async function sweepMigrationLeftovers(
  d: AccessDeps,
  host: AccessHost,
  activeJobIds: ReadonlySet<number>,
): Promise<number[]> {
  const { stdout } = await host.exec(leftoverMigrationsCommand());
  const stale = stdout
    .split("\n")
    .filter((line) => /^[1-9]\d{0,15}$/.test(line))
    .map(Number)
    .filter((jobId) => !activeJobIds.has(jobId));
  for (const jobId of stale) {
    await host.exec(`${removeAuthorizedKeyCommand({ jobId })} && ${removeSourceAccessCommand({ jobId })}`);
    d.audit.record(SYSTEM, "migration.direct_access_sweep", `job:${jobId}`, { host: host.name });
  }
  return stale;
}

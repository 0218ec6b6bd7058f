import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type RunResult, run } from "./run.ts";

/** Enough of a lab host to reach it with OpenSSH. */
export interface SshTarget {
  name: string;
  port: number;
  privateKeyPath: string;
  knownHostsPath: string;
}

/**
 * One multiplexed connection per host: a TCG guest needs ~2 s for each SSH handshake, a reused one ~0.1 s.
 * Socket paths must stay short (about 100 bytes), hence the fallback to a hashed name in the temp dir.
 */
export function controlPath(target: SshTarget): string {
  const beside = join(dirname(target.knownHostsPath), "ssh.sock");
  if (beside.length < 100) return beside;
  const id = createHash("sha256").update(beside).digest("hex").slice(0, 16);
  return join(tmpdir(), `bf-lab-${id}.sock`);
}

/** OpenSSH client options: the lab key only, the pinned host key only, no user config, no prompts. */
export function sshArgs(target: SshTarget, multiplex = true): string[] {
  const options = [
    "IdentitiesOnly=yes",
    `UserKnownHostsFile=${target.knownHostsPath}`,
    "GlobalKnownHostsFile=/dev/null",
    "StrictHostKeyChecking=yes",
    "BatchMode=yes",
    "LogLevel=ERROR",
    "ConnectTimeout=20",
    "ServerAliveInterval=5",
    ...(multiplex
      ? ["ControlMaster=auto", `ControlPath=${controlPath(target)}`, "ControlPersist=60"]
      : ["ControlMaster=no", "ControlPath=none"]),
  ];
  return [
    ...["-F", "/dev/null", "-i", target.privateKeyPath],
    ...options.flatMap((option) => ["-o", option]),
    ...["-p", String(target.port), "root@127.0.0.1"],
  ];
}

/** A command on a lab host that failed: host, command, exit code, and the tail of stderr. */
export class LabExecError extends Error {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`${host}: \`${command.slice(0, 200)}\` exited ${code}: ${stderr.slice(-1500).trim()}`);
    this.name = "LabExecError";
  }
}

export interface ExecOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  /** Resolve with the exit code instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  /** false: a connection of its own, with a fresh handshake (checks the host key now). Default true. */
  multiplex?: boolean;
}

/** Runs a shell command line as root on a lab host (lab administration only; the product has its own SSH layer). */
export async function sshExec(target: SshTarget, command: string, options: ExecOptions = {}): Promise<RunResult> {
  const result = await run("ssh", [...sshArgs(target, options.multiplex ?? true), command], {
    input: options.input,
    timeoutMs: options.timeoutMs ?? 120_000,
    allowFailure: true,
  });
  if (result.code !== 0 && !options.allowFailure)
    throw new LabExecError(target.name, command, result.code, result.stderr);
  return result;
}

/** Ends the host's multiplexed connection (before a reboot, and at shutdown: nothing may linger). */
export async function closeConnection(target: SshTarget): Promise<void> {
  await run("ssh", ["-o", `ControlPath=${controlPath(target)}`, "-O", "exit", "lab"], {
    allowFailure: true,
    timeoutMs: 5000,
  }).catch(() => undefined);
}

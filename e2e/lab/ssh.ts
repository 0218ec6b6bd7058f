import { type RunResult, run } from "./run.ts";

/** Enough of a lab host to reach it with OpenSSH. */
export interface SshTarget {
  name: string;
  port: number;
  privateKeyPath: string;
  knownHostsPath: string;
}

/** OpenSSH client options: the lab key only, the pinned host key only, no user config, no prompts. */
export function sshArgs(target: SshTarget): string[] {
  return [
    "-F", "/dev/null",
    "-i", target.privateKeyPath,
    "-o", "IdentitiesOnly=yes",
    "-o", `UserKnownHostsFile=${target.knownHostsPath}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "BatchMode=yes",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=20",
    "-p", String(target.port),
    "root@127.0.0.1",
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
}

/** Runs a shell command line as root on a lab host (lab administration only; the product has its own SSH layer). */
export async function sshExec(target: SshTarget, command: string, options: ExecOptions = {}): Promise<RunResult> {
  const result = await run("ssh", [...sshArgs(target), command], {
    input: options.input,
    timeoutMs: options.timeoutMs ?? 120_000,
    allowFailure: true,
  });
  if (result.code !== 0 && !options.allowFailure) throw new LabExecError(target.name, command, result.code, result.stderr);
  return result;
}

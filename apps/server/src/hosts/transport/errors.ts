// Typed failures of the remote layer. Messages name the host as user@address:port and never carry key material;
// they are for the server log and the job's own record. An HTTP answer says only what publicUpstreamMessage says.
import { DomainError, UpstreamError } from "../../errors.ts";

/** The host presented another key than the pinned one: nothing was run, and nothing will be until re-trusted. */
export class HostKeyMismatchError extends DomainError {
  /** The host's registered name, when the caller knew it (the HTTP answer names the host by it). */
  hostName?: string;
  constructor(
    readonly host: string,
    readonly expectedFingerprint: string,
    readonly presentedFingerprint: string,
  ) {
    super(
      "HOST_KEY_MISMATCH",
      `host key of ${host} changed: pinned ${expectedFingerprint}, presented ${presentedFingerprint}; refusing to connect`,
      { host, expectedFingerprint, presentedFingerprint },
    );
  }
}

/** TCP connect, SSH handshake or keepalive failed (the connection manager keeps retrying with backoff). */
export class HostUnreachableError extends UpstreamError {
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super("HOST_UNREACHABLE", `cannot reach ${host}: ${reason}`, { host, reason });
  }
}

export class AuthenticationError extends UpstreamError {
  constructor(readonly host: string) {
    super("HOST_AUTH_FAILED", `${host} refused our key (publickey authentication failed)`, { host });
  }
}

/** The connection dropped while a command or transfer was running; its outcome on the host is unknown. */
export class ConnectionLostError extends UpstreamError {
  constructor(
    readonly host: string,
    readonly command: string,
  ) {
    super("HOST_CONNECTION_LOST", `connection to ${host} lost while running: ${clip(command)}`, {
      host,
      command: clip(command),
    });
  }
}

/** A remote command exited non-zero (or was killed by a signal). */
export class RemoteCommandError extends UpstreamError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly stderrTail: string,
  ) {
    super(
      "REMOTE_COMMAND_FAILED",
      `${clip(command)} on ${host} ${exitCode !== null ? `exited with ${exitCode}` : `was killed by ${signal}`}` +
        (stderrTail ? `: ${stderrTail.trim().split("\n").slice(-3).join(" | ")}` : ""),
      { host, command: clip(command), exitCode, signal, stderrTail },
    );
  }
}

/** The command ran past its timeout; its remote process group was killed. */
export class RemoteTimeoutError extends UpstreamError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(
      "REMOTE_COMMAND_TIMEOUT",
      `${clip(command)} on ${host} timed out after ${timeoutMs} ms (remote process killed)`,
      { host, command: clip(command), timeoutMs },
      true,
    );
  }
}

/** The caller aborted; the remote process group was killed. */
export class RemoteCancelledError extends UpstreamError {
  constructor(
    readonly host: string,
    readonly command: string,
  ) {
    super("REMOTE_COMMAND_CANCELLED", `${clip(command)} on ${host} was cancelled (remote process killed)`, {
      host,
      command: clip(command),
    });
  }
}

/** The command printed more than `maxOutputBytes`; it was killed rather than buffered without bound. */
export class OutputLimitError extends UpstreamError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly maxOutputBytes: number,
  ) {
    super("REMOTE_OUTPUT_TOO_LARGE", `${clip(command)} on ${host} printed more than ${maxOutputBytes} bytes (killed)`, {
      host,
      command: clip(command),
      maxOutputBytes,
    });
  }
}

/** An SFTP request failed (open, read, write, stat). */
export class SftpError extends UpstreamError {
  constructor(
    readonly host: string,
    readonly path: string,
    readonly operation: string,
    reason: string,
  ) {
    super("SFTP_FAILED", `sftp ${operation} ${path} on ${host} failed: ${reason}`, { host, path, operation });
  }
}

export class ConnectionClosedError extends UpstreamError {
  constructor(readonly host: string) {
    super("HOST_CONNECTION_CLOSED", `connection to ${host} was closed by us`, { host });
  }
}

function clip(command: string): string {
  return command.length > 300 ? `${command.slice(0, 300)}...` : command;
}

import type { Readable, Writable } from "node:stream";
import type { HostConnection } from "./connection.ts";
import {
  ConnectionLostError,
  OutputLimitError,
  RemoteCancelledError,
  RemoteCommandError,
  RemoteTimeoutError,
} from "./errors.ts";
import { type ExitStatus, type RemoteProcess, startRemoteProcess } from "./remote-process.ts";

export type ExecOptions = {
  /** Kill the remote process group and reject with RemoteTimeoutError after this long. Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
  stdin?: string | Uint8Array;
  /** stdout + stderr cap; past it the command is killed (OutputLimitError). Default 64 MiB. */
  maxOutputBytes?: number;
  /** Exit codes that count as success (default [0]). */
  okExitCodes?: readonly number[];
  /**
   * How timeout and abort stop the command. "kill" (default): SIGTERM to its process group, SIGKILL a second
   * later. "term": SIGTERM only, then up to TERM_GRACE_MS for it to exit before the channel is closed with the
   * command left running. For LVM commands: they give up a lock wait on SIGTERM but defer signals while they
   * change metadata and devices, where a SIGKILL leaves half-made LVs and stray `-real` devices behind.
   */
  stop?: "kill" | "term";
};

/** How long a command stopped with `stop: "term"` gets to finish what it does not interrupt. */
export const TERM_GRACE_MS = 30_000;

export type ExecResult = { stdout: string; stderr: string; code: number };

/**
 * Run one command and collect its output. A non-zero exit is a RemoteCommandError; timeout, abort and too
 * much output kill the remote process group before rejecting.
 */
export async function execOn(conn: HostConnection, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const maxOutput = opts.maxOutputBytes ?? 64 << 20;
  if (opts.signal?.aborted) throw new RemoteCancelledError(conn.name, command);
  const release = await conn.acquireSlot(opts.signal).catch(() => {
    throw new RemoteCancelledError(conn.name, command);
  });
  const proc = await startUnlessAborted(conn, command, opts.signal, release);
  return (async () => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let bytes = 0;
    let stopReason: Error | null = null;
    const stop = (reason: Error) => {
      if (stopReason) return;
      stopReason = reason;
      void (opts.stop === "term" ? proc.kill(TERM_GRACE_MS, false) : proc.kill());
    };
    const count = (n: number) => {
      bytes += n;
      if (bytes > maxOutput) stop(new OutputLimitError(conn.name, command, maxOutput));
    };
    proc.channel.on("data", (chunk: Buffer) => {
      if (stopReason) return;
      out.push(chunk);
      count(chunk.length);
    });
    proc.onStderr((chunk) => {
      if (stopReason) return;
      err.push(chunk);
      count(chunk.length);
    });
    const timer = setTimeout(() => stop(new RemoteTimeoutError(conn.name, command, timeoutMs)), timeoutMs);
    const onAbort = () => stop(new RemoteCancelledError(conn.name, command));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    if (opts.signal?.aborted) onAbort(); // aborted between the channel opening and here
    if (opts.stdin !== undefined) proc.channel.end(opts.stdin);
    else proc.channel.end();
    let status: ExitStatus;
    try {
      status = await proc.exited;
    } catch (e) {
      if (stopReason) throw stopReason;
      throw e;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
    if (stopReason) throw stopReason;
    const stdout = Buffer.concat(out).toString("utf8");
    const stderr = Buffer.concat(err).toString("utf8");
    if (status.code === null || !(opts.okExitCodes ?? [0]).includes(status.code))
      throw new RemoteCommandError(conn.name, command, status.code, status.signal, proc.stderrTail());
    return { stdout, stderr, code: status.code };
  })().finally(release);
}

/**
 * Open the command's channel unless `signal` aborts first; the caller holds a slot (`release`, freed here on
 * any rejection). Connecting can take up to the ready timeout: an abort meanwhile rejects at once, and the
 * command is never sent. Once sent, the channel opens within a round trip; an abort from then on is the
 * caller's to handle like one on a running command (it checks `signal.aborted` after adding its listener),
 * so the command is stopped the way the caller asked (`stop: "term"` included) before the rejection.
 */
async function startUnlessAborted(
  conn: HostConnection,
  command: string,
  signal: AbortSignal | undefined,
  release: () => void,
): Promise<RemoteProcess> {
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new RemoteCancelledError(conn.name, command));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      conn
        .ready()
        .then(() => resolve(), reject)
        .finally(() => signal?.removeEventListener("abort", onAbort));
    });
    if (signal?.aborted) throw new RemoteCancelledError(conn.name, command);
    return await startRemoteProcess(conn, command);
  } catch (e) {
    release();
    throw e;
  }
}

export type RemoteStream = {
  /** The command's stdout (back-pressured by the SSH channel window). */
  stdout: Readable;
  /** The command's stdin; end it to send EOF. */
  stdin: Writable;
  /** Exit 0 resolves; non-zero RemoteCommandError; abort RemoteCancelledError; drop ConnectionLostError. */
  exit: Promise<{ code: number }>;
  /** Kill the remote process group and close the channel. */
  cancel(): Promise<void>;
  stderrTail(): string;
};

/** Start a long-running command (dd for the transfer engine). The channel slot is held until it closes. */
export async function execStreamOn(
  conn: HostConnection,
  command: string,
  opts: { signal?: AbortSignal } = {},
): Promise<RemoteStream> {
  if (opts.signal?.aborted) throw new RemoteCancelledError(conn.name, command);
  const release = await conn.acquireSlot(opts.signal).catch(() => {
    throw new RemoteCancelledError(conn.name, command);
  });
  const proc = await startUnlessAborted(conn, command, opts.signal, release);
  let cancelled = false;
  const cancel = async () => {
    cancelled = true;
    await proc.kill();
  };
  const onAbort = () => void cancel();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort(); // aborted between the channel opening and here
  const exit = proc.exited
    .then(
      (status) => {
        if (cancelled) throw new RemoteCancelledError(conn.name, command);
        if (status.code !== 0)
          throw new RemoteCommandError(conn.name, command, status.code, status.signal, proc.stderrTail());
        return { code: 0 };
      },
      (e: unknown) => {
        if (cancelled) throw new RemoteCancelledError(conn.name, command);
        throw e instanceof ConnectionLostError ? e : new ConnectionLostError(conn.name, command);
      },
    )
    .finally(() => {
      release();
      opts.signal?.removeEventListener("abort", onAbort);
    });
  exit.catch(() => {});
  return { stdout: proc.channel, stdin: proc.channel, exit, cancel, stderrTail: proc.stderrTail };
}

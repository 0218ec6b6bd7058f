// A command on a host, with a handle to kill it for real. Closing an SSH channel does not stop the remote
// process (OpenSSH just closes its pipes), so every command announces its process group first and cancel
// kills that group over a second channel.

import { killProcessGroupCommand, withProcessGroupReport } from "@blockferry/lvm";
import type { ClientChannel } from "ssh2";
import type { HostConnection } from "./connection.ts";
import { ConnectionLostError } from "./errors.ts";
import { PgidScanner } from "./pgid-scanner.ts";

export const STDERR_TAIL_BYTES = 4096;

export type ExitStatus = { code: number | null; signal: string | null };

export type RemoteProcess = {
  channel: ClientChannel;
  /** Remote process group id, once announced (null if the channel ended first). */
  pgid: Promise<number | null>;
  /** Resolves when the channel closes; rejects with ConnectionLostError if the connection dropped first. */
  exited: Promise<ExitStatus>;
  /** stderr without our marker line, last STDERR_TAIL_BYTES bytes. */
  stderrTail(): string;
  /** Subscribe to stderr data (marker removed). */
  onStderr(listener: (chunk: Buffer) => void): void;
  /**
   * SIGTERM the process group, SIGKILL after `graceMs` if the channel is still open (unless `escalate` is false:
   * then the command is left to finish), then close the channel.
   */
  kill(graceMs?: number, escalate?: boolean): Promise<void>;
  isClosed(): boolean;
};

/** Open an exec channel for `command` (caller holds a slot on `conn`). */
export async function startRemoteProcess(conn: HostConnection, command: string): Promise<RemoteProcess> {
  const client = await conn.ready();
  let closed = false;
  let status: ExitStatus | null = null;
  let tail = Buffer.alloc(0);
  const stderrListeners: Array<(chunk: Buffer) => void> = [];
  /** stderr that came before anyone subscribed: a fast command can finish before the caller's first await returns. */
  const unheard: Buffer[] = [];
  let resolvePgid!: (v: number | null) => void;
  const pgid = new Promise<number | null>((r) => {
    resolvePgid = r;
  });
  const pushStderr = (chunk: Buffer) => {
    if (chunk.length === 0) return;
    tail = Buffer.concat([tail, chunk]);
    if (tail.length > STDERR_TAIL_BYTES) tail = tail.subarray(tail.length - STDERR_TAIL_BYTES);
    if (stderrListeners.length === 0) unheard.push(chunk);
    for (const l of stderrListeners) l(chunk);
  };
  const scanner = new PgidScanner(resolvePgid, pushStderr);
  let settleExit!: { resolve(s: ExitStatus): void; reject(e: Error): void };
  const exited = new Promise<ExitStatus>((resolve, reject) => {
    settleExit = { resolve, reject };
  });
  exited.catch(() => {}); // observed by callers; avoid an unhandled rejection if nobody awaits it

  // Listeners go on inside the exec callback itself: ssh2 can deliver the open confirmation, the exit status and
  // the close of a fast command from one TCP read, before any promise continuation would run.
  const channel = await new Promise<ClientChannel>((resolve, reject) => {
    client.exec(withProcessGroupReport(command), (err, ch) => {
      if (err) return reject(err);
      ch.stderr.on("data", (chunk: Buffer) => scanner.push(chunk));
      ch.stderr.on("end", () => scanner.end());
      ch.on("exit", (code: number | null, signal?: string) => {
        status = { code: typeof code === "number" ? code : null, signal: signal ?? null };
      });
      ch.on("close", () => {
        closed = true;
        scanner.end();
        if (status) settleExit.resolve(status);
        else settleExit.reject(new ConnectionLostError(conn.name, command));
      });
      resolve(ch);
    });
  }).catch((err: Error) => {
    throw new ConnectionLostError(conn.name, `${command} (channel open failed: ${err.message})`);
  });

  const killGroup = async (signal: "TERM" | "KILL") => {
    const id = await Promise.race([
      pgid,
      exited.then(
        () => null,
        () => null,
      ),
    ]);
    if (id === null || closed) return;
    await conn
      .withSlot(
        (c) =>
          new Promise<void>((resolve) => {
            c.exec(killProcessGroupCommand(id, signal), (err, ch) => {
              if (err) return resolve();
              ch.resume();
              ch.stderr.resume();
              ch.on("close", () => resolve());
            });
          }),
        { unlimited: true },
      )
      .catch(() => {});
  };

  return {
    channel,
    pgid,
    exited,
    stderrTail: () => tail.toString("utf8"),
    onStderr: (l) => {
      stderrListeners.push(l);
      for (const chunk of unheard.splice(0)) l(chunk);
    },
    isClosed: () => closed,
    async kill(graceMs = 1000, escalate = true) {
      if (closed) return;
      // Output nobody will read: ssh2 reports the channel closed only after its stdout was read to the end, so
      // without this a process that died at once on TERM would still wait out the grace and get a KILL.
      channel.resume();
      await killGroup("TERM");
      const done = await Promise.race([
        exited.then(
          () => true,
          () => true,
        ),
        new Promise<false>((r) => setTimeout(() => r(false), graceMs).unref()),
      ]);
      if (!done && escalate) await killGroup("KILL");
      if (!closed) channel.close();
    },
  };
}

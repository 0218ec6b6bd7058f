import type { Readable, Writable } from "node:stream";
import { execStreamOn, type HostConnection, openRemoteFile, type RemoteFile } from "../hosts/index.ts";

/**
 * The narrow slice of a host connection the transfer engine needs (tests can hand it any real host).
 * Commands are complete shell command lines built by packages/lvm (every value validated and quoted there).
 */
export interface TransferHost {
  /** For messages only (never secrets). */
  readonly name: string;
  /**
   * Start a command with streaming stdio. `done` resolves with (the tail of) stderr after exit status 0 and
   * rejects otherwise (typed by the hosts layer). When `signal` aborts, the remote process group is killed.
   */
  execStream(command: string, options?: { signal?: AbortSignal }): Promise<RemoteProcess>;
  /**
   * Open a file or device over the connection's SFTP session (no process): "r" read-only, "r+" read and write
   * an existing one (never created or truncated). The path must already be validated.
   */
  openFile(path: string, mode: "r" | "r+"): Promise<RemoteFile>;
}

export interface RemoteProcess {
  readonly stdout: Readable;
  readonly stdin: Writable;
  readonly done: Promise<{ stderr: string }>;
  /** Kill the remote process group now (idempotent); `done` then rejects. */
  cancel(): Promise<void>;
}

/** A hosts-layer connection as a TransferHost. */
export function transferHostOf(conn: HostConnection): TransferHost {
  return {
    name: conn.name,
    async execStream(command, options = {}) {
      const s = await execStreamOn(conn, command, options);
      const done = s.exit.then(() => ({ stderr: s.stderrTail() }));
      done.catch(() => undefined);
      // execStreamOn listens for `signal` only once the channel is open: an abort during the open is caught here.
      if (options.signal?.aborted) void s.cancel();
      return { stdout: s.stdout, stdin: s.stdin, done, cancel: () => s.cancel() };
    },
    openFile: (path, mode) => openRemoteFile(conn, path, mode),
  };
}

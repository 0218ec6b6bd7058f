import type { Readable, Writable } from "node:stream";

/**
 * The narrow slice of a host connection the transfer engine needs. apps/server/src/hosts provides it over
 * ssh2 with pinned host keys; the engine never opens SSH itself. Commands are complete shell command lines
 * built by packages/lvm (every value validated and quoted there).
 */
export interface TransferHost {
  /** For messages only (never secrets). */
  readonly name: string;
  /**
   * Start a command with streaming stdio. `done` resolves with the stderr text after exit status 0 and rejects
   * (with the host, the command, the exit code or signal and the tail of stderr) otherwise. When `signal`
   * aborts, the remote process and all its children are killed and `done` rejects.
   */
  execStream(command: string, options?: { signal?: AbortSignal }): RemoteProcess;
}

export interface RemoteProcess {
  readonly stdout: Readable;
  readonly stdin: Writable;
  readonly done: Promise<{ stderr: string }>;
}

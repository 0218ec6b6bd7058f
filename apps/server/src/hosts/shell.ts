import { describeEndpoint } from "./transport/endpoint.ts";
import type { RemoteHosts } from "./transport/manager.ts";
import type { HostRegistry } from "./trust/registry.ts";

/** Run a command on one host: what phases need from the SSH layer, and nothing more. */
export interface HostShell {
  readonly hostId: number;
  readonly name: string;
  /** user@address:port, as the SSH layer names this host in its errors (absent: not known to the caller). */
  readonly endpoint?: string;
  /**
   * Runs one command; a non-zero exit throws the SSH layer's typed error. Abort (and timeout) kill its process
   * group; `stop: "term"` only sends SIGTERM and lets it finish what it defers (LVM changes: see ExecOptions).
   */
  run(
    command: string,
    opts?: { timeoutMs?: number; signal?: AbortSignal; stdin?: string; stop?: "kill" | "term" },
  ): Promise<string>;
  /** Random-access reads of a remote file or device (SFTP), for COW metadata; reads reject once `signal` aborts. */
  openByteSource(
    path: string,
    opts?: { signal?: AbortSignal },
  ): Promise<{
    size(): Promise<number>;
    read(offset: number, length: number): Promise<Uint8Array>;
    close(): Promise<void>;
  }>;
}

/** The narrow view job phases get of one trusted host. */
export function hostShell(remote: RemoteHosts, registry: HostRegistry, hostId: number): HostShell {
  const row = registry.requireTrusted(hostId);
  return {
    hostId,
    name: row.name,
    endpoint: describeEndpoint({ host: row.address, port: row.port, username: row.username }),
    async run(command, opts = {}) {
      const result = await registry.withHost(hostId, () =>
        remote.exec(hostId, command, {
          timeoutMs: opts.timeoutMs ?? 120_000,
          signal: opts.signal,
          stdin: opts.stdin,
          stop: opts.stop,
        }),
      );
      return result.stdout;
    },
    openByteSource(path, opts = {}) {
      return registry.withHost(hostId, () => remote.byteSource(hostId, path, opts));
    },
  };
}

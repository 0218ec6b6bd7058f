import type { HostShell } from "../jobs/context.ts";
import type { RemoteHosts } from "./transport/manager.ts";
import type { HostRegistry } from "./trust/registry.ts";

/** The narrow view job phases get of one trusted host. */
export function hostShell(remote: RemoteHosts, registry: HostRegistry, hostId: number): HostShell {
  const row = registry.requireTrusted(hostId);
  return {
    hostId,
    name: row.name,
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

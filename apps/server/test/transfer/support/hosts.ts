import type { LoopbackSshd } from "../../../../../test-support/loopback-sshd.ts";
import { execOn, HostConnection } from "../../../src/hosts/index.ts";
import { type TransferHost, transferHostOf } from "../../../src/transfer/host.ts";

export interface TestHost extends TransferHost {
  conn: HostConnection;
  run(command: string): Promise<string>;
  close(): Promise<void>;
}

/** A real hosts-layer connection to the loopback sshd, as the transfer engine sees it. */
export function testHost(sshd: LoopbackSshd, maxChannels = 12): TestHost {
  const conn = new HostConnection(
    {
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
      hostKeyFingerprint: sshd.hostKeyFingerprint,
    },
    { maxChannels, backoffInitialMs: 50, backoffMaxMs: 500 },
  );
  return {
    ...transferHostOf(conn),
    conn,
    run: async (command) => (await execOn(conn, command, { timeoutMs: 60_000 })).stdout,
    close: () => conn.close(),
  };
}

/**
 * Bash sources ~/.bashrc for commands run by sshd when SHLVL < 2; this machine's root .bashrc runs
 * `pyenv init` (a rehash behind a lock file), which costs ~0.4 s per exec and stalls concurrent sessions for
 * up to a minute. Hypervisors have no such rc file; SHLVL=1 gives the sessions that behaviour here.
 * (Rides on the fixture's SetEnv PATH line, which accepts several NAME=VALUE words.)
 */
export const QUIET_SHELL = { path: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SHLVL=1" };

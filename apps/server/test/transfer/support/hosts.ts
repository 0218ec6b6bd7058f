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

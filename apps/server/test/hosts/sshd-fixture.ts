import type { LoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import type { HostEndpoint } from "../../src/hosts/index.ts";

export function endpointOf(sshd: LoopbackSshd, over: Partial<HostEndpoint> = {}): HostEndpoint {
  return {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
    ...over,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns true or the deadline passes. */
export async function eventually(fn: () => Promise<boolean>, timeoutMs = 5000, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return true;
    await sleep(stepMs);
  }
  return fn();
}

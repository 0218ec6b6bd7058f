// Host key pinning, authentication failures, and a host that dies mid-command, against a real sshd.
import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import {
  AuthenticationError,
  ConnectionLostError,
  fingerprintOf,
  HostKeyMismatchError,
  HostUnreachableError,
  probeHostKey,
  RemoteHosts,
} from "../../src/hosts/index.ts";
import { endpointOf, eventually, sleep } from "./sshd-fixture.ts";

let sshd: LoopbackSshd;
beforeAll(async () => {
  sshd = await startLoopbackSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

function withHosts(fn: (hosts: RemoteHosts) => Promise<void>, opts?: ConstructorParameters<typeof RemoteHosts>[0]) {
  return async () => {
    const hosts = new RemoteHosts(opts);
    try {
      await fn(hosts);
    } finally {
      await hosts.close();
    }
  };
}

describe("host key fingerprints", () => {
  it("fingerprintOf matches ssh-keygen -lf, and probeHostKey learns it without authenticating", async () => {
    const pub = execFileSync("cat", [`${sshd.hostKeyPath}.pub`], { encoding: "utf8" }).split(" ")[1] ?? "";
    expect(fingerprintOf(Buffer.from(pub, "base64"))).toBe(sshd.hostKeyFingerprint);
    expect(sshd.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(await probeHostKey({ host: sshd.host, port: sshd.port })).toEqual({
      fingerprint: sshd.hostKeyFingerprint,
      keyType: "ssh-ed25519",
    });
  });

  it("probing a closed port is a typed HostUnreachableError", async () => {
    await expect(probeHostKey({ host: "127.0.0.1", port: 1 })).rejects.toBeInstanceOf(HostUnreachableError);
  });
});

describe("pinning", () => {
  it(
    "refuses a host whose key is not the pinned one, and runs nothing",
    withHosts(async (hosts) => {
      const canary = join(sshd.dir, "pinning-canary");
      const wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
      hosts.register("h", endpointOf(sshd, { hostKeyFingerprint: wrong }));
      const err = await hosts.exec("h", `touch ${canary}`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      expect(err).toMatchObject({
        expectedFingerprint: wrong,
        presentedFingerprint: sshd.hostKeyFingerprint,
        code: "HOST_KEY_MISMATCH",
      });
      // It stays refused (no retry loop that could one day accept), and nothing ran.
      await expect(hosts.exec("h", `touch ${canary}`)).rejects.toBeInstanceOf(HostKeyMismatchError);
      expect(hosts.stats("h")).toMatchObject({ state: "failed", connects: 0 });
      expect(existsSync(canary)).toBe(false);
      expect((await hosts.health("h")).reachable).toBe(false);
    }),
  );

  it(
    "a host that comes back with a NEW key is refused until the operator re-pins it",
    withHosts(async (hosts) => {
      const oldFp = sshd.hostKeyFingerprint;
      hosts.register("h", endpointOf(sshd));
      expect((await hosts.exec("h", "echo ok")).stdout).toBe("ok\n");
      await sshd.restart({ newHostKey: true });
      expect(sshd.hostKeyFingerprint).not.toBe(oldFp);
      const err = await hosts.exec("h", "echo ok").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      expect(err).toMatchObject({ expectedFingerprint: oldFp, presentedFingerprint: sshd.hostKeyFingerprint });
      hosts.register("h", endpointOf(sshd)); // operator confirmed the new fingerprint
      expect((await hosts.exec("h", "echo ok")).stdout).toBe("ok\n");
    }),
  );
});

describe("authentication", () => {
  it(
    "an unauthorized key is a typed AuthenticationError",
    withHosts(async (hosts) => {
      const keyPath = join(sshd.dir, "stranger");
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyPath]);
      const stranger = execFileSync("cat", [keyPath], { encoding: "utf8" });
      rmSync(keyPath);
      hosts.register("h", endpointOf(sshd, { privateKey: stranger }));
      const err = await hosts.exec("h", "true").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(JSON.stringify({ m: (err as Error).message, s: (err as Error).stack })).not.toContain(
        stranger.split("\n")[1] ?? "x",
      );
    }),
  );

  it("a garbled private key fails typed, and no key material appears in the error or the logs", async () => {
    const lines: string[] = [];
    const logger = {
      info: (o: object, m: string) => lines.push(JSON.stringify(o) + m),
      warn: (o: object, m: string) => lines.push(JSON.stringify(o) + m),
    };
    const secretLine = sshd.privateKey.split("\n")[1] ?? "";
    const garbled = sshd.privateKey.replace(secretLine, `${secretLine.slice(0, 20)}!!!${secretLine.slice(23)}`);
    await withHosts(
      async (hosts) => {
        hosts.register("h", endpointOf(sshd, { privateKey: garbled }));
        const err = await hosts.exec("h", "true").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(AuthenticationError);
        const everything = [JSON.stringify(err), (err as Error).message, String((err as Error).stack), ...lines].join(
          "\n",
        );
        expect(everything).not.toContain(secretLine.slice(0, 20));
        expect(everything).not.toContain("PRIVATE KEY");
      },
      { logger },
    )();
  });
});

describe("a host that dies mid-command", () => {
  it(
    "fails the running command typed, then reconnects by itself",
    withHosts(async (hosts) => {
      hosts.register("h", endpointOf(sshd), { backoffInitialMs: 100, backoffMaxMs: 500 });
      expect((await hosts.exec("h", "echo before")).stdout).toBe("before\n");
      const running = hosts.exec("h", "sleep 3; echo never");
      await sleep(500);
      sshd.kill();
      const err = await running.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionLostError);
      // While it is down, callers get a typed error rather than hanging.
      await expect(hosts.exec("h", "true", { timeoutMs: 5000 })).rejects.toBeInstanceOf(HostUnreachableError);
      await sshd.start();
      // The manager reconnects in the background with backoff; no caller has to poke it.
      expect(await eventually(async () => hosts.stats("h").state === "ready", 5000, 50)).toBe(true);
      expect(hosts.stats("h").connects).toBe(2);
      expect((await hosts.exec("h", "echo after")).stdout).toBe("after\n");
    }),
  );
});

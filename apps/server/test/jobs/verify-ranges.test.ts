// The verify phase's range hashing against a real sshd: scattered short ranges go over SFTP (after a cache drop),
// long ones through dd + b2sum; either way equal devices hash equal and one flipped byte shows.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import { byteSourceOf, execOn, HostConnection, openRemoteFile } from "../../src/hosts/index.ts";
import type { HostShell } from "../../src/jobs/context.ts";
import { hashRanges } from "../../src/jobs/phases/cutover.ts";
import { QUIET_SHELL } from "../transfer/support/hosts.ts";

const K = 1024;
let sshd: LoopbackSshd;
let conn: HostConnection;
let shell: HostShell;
let dir: string;

beforeAll(async () => {
  sshd = await startLoopbackSshd(QUIET_SHELL);
  conn = new HostConnection({
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    privateKey: sshd.privateKey,
    hostKeyFingerprint: sshd.hostKeyFingerprint,
  });
  shell = {
    hostId: 1,
    name: "loopback",
    run: async (command, opts) => (await execOn(conn, command, { timeoutMs: 30_000, signal: opts?.signal })).stdout,
    openByteSource: async (path) => {
      const file = await openRemoteFile(conn, path, "r");
      return { ...byteSourceOf(file), close: () => file.close() };
    },
  };
  dir = mkdtempSync(join("/dev/shm", "bf-verify-"));
});
afterAll(async () => {
  await conn?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("hashRanges (verify phase)", () => {
  const signal = new AbortController().signal;
  const data = randomBytes(4 << 20);

  for (const [name, ranges] of [
    ["short scattered ranges (SFTP)", Array.from({ length: 600 }, (_, i) => [i * 6 * K, 4 * K] as const)],
    ["long ranges (dd + b2sum)", [[0, 2 << 20] as const, [3 << 20, 1 << 20] as const]],
  ] as const) {
    it(`${name}: equal devices hash equal, a flipped byte in a range shows`, async () => {
      const a = join(dir, "a.img");
      const b = join(dir, "b.img");
      writeFileSync(a, data);
      writeFileSync(b, data);
      const [ha, hb] = await Promise.all([hashRanges(shell, a, ranges, signal), hashRanges(shell, b, ranges, signal)]);
      expect(ha).toEqual(hb);
      expect(ha.length).toBe(Math.ceil(ranges.length / 512));
      const flipped = Buffer.from(data);
      const [lastOffset] = ranges[ranges.length - 1] as readonly [number, number];
      flipped[lastOffset + 7] = (flipped[lastOffset + 7] as number) ^ 1;
      writeFileSync(b, flipped);
      const hc = await hashRanges(shell, b, ranges, signal);
      expect(hc.slice(0, -1)).toEqual(ha.slice(0, -1));
      expect(hc[hc.length - 1]).not.toBe(ha[ha.length - 1]);
    });
  }

  it("hashes exactly the ranges' bytes in order", async () => {
    const a = join(dir, "order.img");
    writeFileSync(a, data);
    const ranges = [
      [8 * K, 4 * K],
      [100 * K, 512],
      [200 * K, 16 * K],
    ] as const;
    const [h] = await hashRanges(shell, a, ranges, signal);
    const want = createHash("sha256");
    for (const [o, l] of ranges) want.update(readFileSync(a).subarray(o, o + l));
    expect(h).toBe(want.digest("hex"));
  });
});

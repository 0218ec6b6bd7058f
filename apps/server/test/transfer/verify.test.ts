// Verification (transfer/verify.ts, what the verify phase runs) against a real sshd: scattered short ranges are
// compared over SFTP after a cache drop, long ones hashed by dd + the hosts' hash tool; either way equal devices
// verify clean, one flipped byte names its range, and bytes outside the ranges are not looked at.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import { verifyRanges } from "../../src/transfer/verify.ts";
import { writeAt } from "./support/fixture.ts";
import { QUIET_SHELL, type TestHost, testHost } from "./support/hosts.ts";

const K = 1024;
let sshd: LoopbackSshd;
let src: TestHost;
let dst: TestHost;
let dir: string;

beforeAll(async () => {
  sshd = await startLoopbackSshd(QUIET_SHELL);
  src = testHost(sshd);
  dst = testHost(sshd);
  dir = mkdtempSync(join("/dev/shm", "bf-verify-"));
});
afterAll(async () => {
  await src?.close();
  await dst?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("verifyRanges", () => {
  const data = randomBytes(4 << 20);

  // [name, ranges, an offset in no range]
  const cases: Array<[string, ReadonlyArray<readonly [number, number]>, number]> = [
    ["short scattered ranges (SFTP)", Array.from({ length: 600 }, (_, i) => [i * 6 * K, 4 * K] as const), 5 * K],
    ["long ranges (dd + hash tool)", [[0, 2 << 20] as const, [3 << 20, 1 << 20] as const], (2 << 20) + 5 * K],
  ];
  for (const [name, ranges, outside] of cases) {
    it(`${name}: equal devices verify clean, a flipped byte in a range names it, one outside does not`, async () => {
      const a = join(dir, "a.img");
      const b = join(dir, "b.img");
      writeFileSync(a, data);
      writeFileSync(b, data);
      const verify = () =>
        // One range per dd batch: a dd batch that differs names all its ranges.
        verifyRanges({ source: { host: src, device: a }, target: { host: dst, device: b }, ranges, batchBytes: K });
      const clean = await verify();
      expect(clean.mismatched).toEqual([]);
      expect(clean.rangesChecked).toBe(ranges.length);
      expect(clean.bytesChecked).toBe(ranges.reduce((s, [, l]) => s + l, 0));

      const [lastOffset] = ranges[ranges.length - 1] as readonly [number, number];
      writeAt(b, lastOffset + 7, Buffer.from([(data[lastOffset + 7] as number) ^ 1]));
      expect((await verify()).mismatched).toEqual([ranges[ranges.length - 1]]);

      writeFileSync(b, data);
      writeAt(b, outside, Buffer.from([(data[outside] as number) ^ 1]));
      expect((await verify()).mismatched).toEqual([]);
    });
  }
});

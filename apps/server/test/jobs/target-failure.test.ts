// A copy that failed because of the target's storage is told in the operator's words, not as a dd command line.
import { describe, expect, it } from "vitest";
import { explainTargetFailure, TargetDiskError } from "../../src/jobs/target-failure.ts";
import { FakeLvmHost } from "../support/fake-host.ts";

const MIB = 1024 * 1024;

function setup() {
  const target = new FakeLvmHost(2, "lab2").addVg("vg0", 1024 * MIB);
  target.addLv("vg0", "vm1", 64 * MIB);
  const ctx = { job: { targetVg: "vg0", targetLv: "vm1", targetThinPool: null }, target } as never;
  return { ctx, signal: new AbortController().signal };
}

const ddFailure = (stderrTail: string) =>
  Object.assign(new Error("r(){ dd if='/dev/vg0/vm1' ... on root@127.0.0.1:2222 exited with 1"), { stderrTail });

describe("explainTargetFailure", () => {
  it("names the target LV and host when its disk returns I/O errors", async () => {
    const { ctx, signal } = setup();
    const err = await explainTargetFailure(
      ctx,
      ddFailure("dd: error writing '/dev/vg0/vm1': Input/output error\n"),
      signal,
    );
    expect(err).toBeInstanceOf(TargetDiskError);
    expect((err as Error).message).toMatch(/^the disk under vg0\/vm1 on lab2 returned I\/O errors/);
    expect((err as Error).message).not.toMatch(/r\(\)/);
  });

  it("leaves other failures as they are", async () => {
    const { ctx, signal } = setup();
    const other = ddFailure("dd: error reading '/dev/vg0/bf-1-s1': Input/output error");
    expect(await explainTargetFailure(ctx, other, signal)).toBe(other);
  });
});

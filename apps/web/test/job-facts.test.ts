import { describe, expect, it } from "vitest";
import { attemptsText, discardedPassesText, jobDurationMs, passLabel } from "../src/lib/job-facts.ts";

describe("job facts", () => {
  it("names passes in words", () => {
    expect(passLabel({ kind: "full", number: 1 })).toBe("Full copy");
    expect(passLabel({ kind: "full", number: 2 })).toBe("Full copy again (snapshot 2)");
    expect(passLabel({ kind: "catch_up", number: 3 })).toBe("Catch-up 3");
    expect(passLabel({ kind: "final", number: 1 })).toBe("Final delta");
    expect(passLabel({ kind: "final", number: 2 })).toBe("Final delta 2 (after a rollback)");
  });

  it("measures a job from its first start to its end, or to now while it runs", () => {
    const base = { startedAt: "2026-12-02T12:00:00.000Z", updatedAt: "2026-12-02T12:00:30.000Z" };
    expect(jobDurationMs({ ...base, state: "succeeded", finishedAt: "2026-12-02T12:01:47.000Z" })).toBe(107_000);
    // A failed job has no finishedAt: it ended at its last update.
    expect(jobDurationMs({ ...base, state: "failed", finishedAt: null })).toBe(30_000);
    // Running again after a rollback: the old finishedAt does not end it.
    const now = Date.parse("2026-12-02T12:05:00.000Z");
    expect(jobDurationMs({ ...base, state: "running", finishedAt: "2026-12-02T12:01:00.000Z" }, now)).toBe(300_000);
    expect(jobDurationMs({ ...base, startedAt: null, state: "queued", finishedAt: null })).toBeNull();
  });

  it("lists the passes a rollback discarded, by disk for a set", () => {
    const pass = (name: string, disk: number, bytes: number) => ({
      pass: name,
      disk,
      rangesTotal: 1,
      rangesAlreadyDone: 0,
      bytesRead: bytes,
      bytesSent: bytes,
      at: "2026-12-02T12:00:16.000Z",
    });
    const r = { discardedPasses: [pass("full-g1", 0, 64 * 2 ** 20), pass("full-g1", 1, 2 ** 20)] };
    expect(discardedPassesText(r, 2)).toBe("full-g1 (disk 0) 64.0 MiB, full-g1 (disk 1) 1.00 MiB");
    expect(discardedPassesText({ discardedPasses: [pass("catchup-1", 0, 512)] }, 1)).toBe("catchup-1 512 B");
    expect(discardedPassesText({ discardedPasses: [] }, 1)).toBe("no finished pass");
  });

  it("counts attempts from one", () => {
    expect(attemptsText(0)).toBe("1");
    expect(attemptsText(1)).toBe("2 (1 retry)");
    expect(attemptsText(2)).toBe("3 (2 retries)");
  });
});

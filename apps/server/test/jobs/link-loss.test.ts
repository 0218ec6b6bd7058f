import { describe, expect, it } from "vitest";
import { afterLinkLoss, DirectLinkLostError, type LinkLoss } from "../../src/jobs/link-loss.ts";

const loss: LinkLoss = {
  mode: "auto",
  link: "lab1 to lab2 at 10.77.0.2:22",
  lost: "Timeout, server 10.77.0.2 not responding.",
  lostForMs: 21_000,
  windowMs: 120_000,
  tries: 0,
};

describe("after the source's link to the target is lost", () => {
  it("a re-open that works carries on direct, in either mode", () => {
    expect(afterLinkLoss(loss)).toEqual({ next: "direct" });
    expect(afterLinkLoss({ ...loss, mode: "direct", tries: 3 })).toEqual({ next: "direct" });
  });

  it("auto: a re-open that fails takes the relay for the rest, saying which link and why", () => {
    const step = afterLinkLoss({ ...loss, reopenError: "lab1 cannot reach lab2 at its migration address" });
    expect(step).toEqual({
      next: "relay",
      reason: expect.stringMatching(
        /^direct link lab1 to lab2 at 10\.77\.0\.2:22 lost \(.*not responding\.\); re-opening it failed: lab1 cannot reach lab2/,
      ),
    });
  });

  it("auto: a link that keeps failing past the window takes the relay even when it re-opens", () => {
    const step = afterLinkLoss({ ...loss, lostForMs: 120_000, tries: 6 });
    expect(step).toMatchObject({ next: "relay", reason: expect.stringContaining("kept failing for 120 s") });
  });

  it("direct: a re-open that fails waits (growing, capped, never past the window) and tries again", () => {
    const failed = { ...loss, mode: "direct" as const, reopenError: "unreachable" };
    expect(afterLinkLoss({ ...failed, tries: 0 })).toEqual({ next: "wait", ms: 1000 });
    expect(afterLinkLoss({ ...failed, tries: 2 })).toEqual({ next: "wait", ms: 4000 });
    expect(afterLinkLoss({ ...failed, tries: 9 })).toEqual({ next: "wait", ms: 10_000 });
    expect(afterLinkLoss({ ...failed, tries: 9, lostForMs: 118_500 })).toEqual({ next: "wait", ms: 1500 });
  });

  it("direct: past the window the job fails with an error naming the hosts and the link", () => {
    const step = afterLinkLoss({ ...loss, mode: "direct", lostForMs: 120_000, reopenError: "unreachable" });
    expect(step.next).toBe("fail");
    const error = (step as { error: Error }).error;
    expect(error).toBeInstanceOf(DirectLinkLostError);
    expect(error.message).toMatch(
      /^direct link lab1 to lab2 at 10\.77\.0\.2:22 lost and not back within 120 s \(.*\); re-opening it failed: unreachable$/,
    );
  });
});

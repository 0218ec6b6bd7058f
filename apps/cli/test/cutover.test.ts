import type { Migration } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { CliApiError, parseArgs } from "../src/lib/api-client.ts";
import { cutoverAhead, cutoverFromFlags, outageText, predictionLine, waitLine } from "../src/lib/cutover.ts";

const MiB = 2 ** 20;
const flags = (...argv: string[]) => parseArgs(argv).flags;

describe("cutover flags", () => {
  it("keeps the short mode when no budget, pass limit or window is given", () => {
    expect(cutoverFromFlags(flags())).toBe("manual");
    expect(cutoverFromFlags(flags("--cutover", "auto"))).toBe("auto");
    expect(cutoverFromFlags(flags("--cutover", "manual"), { short: false })).toEqual({ mode: "manual" });
    expect(cutoverFromFlags(flags("--cutover", "auto"), { short: false })).toEqual({ mode: "auto" });
  });

  it("reads a budget, a pass limit and a window as an automatic policy", () => {
    expect(
      cutoverFromFlags(
        flags(
          "--max-outage",
          "4.5",
          "--max-passes=3",
          "--not-before",
          "2026-12-03T22:00Z",
          "--not-after",
          "2026-12-04T06:00:00+01:00",
        ),
      ),
    ).toEqual({
      mode: "auto",
      maxOutageSeconds: 4.5,
      maxPasses: 3,
      notBefore: "2026-12-03T22:00:00.000Z",
      notAfter: "2026-12-04T05:00:00.000Z",
    });
    expect(cutoverFromFlags(flags("--cutover", "auto", "--max-passes", "0"))).toEqual({ mode: "auto", maxPasses: 0 });
    // Without a zone: this machine's local time.
    expect(cutoverFromFlags(flags("--not-before", "2026-12-03T22:00"))).toEqual({
      mode: "auto",
      notBefore: new Date(2026, 11, 3, 22, 0).toISOString(),
    });
  });

  it("refuses what it cannot read, naming the flag", () => {
    const bad: [string[], RegExp][] = [
      [["--cutover", "later"], /--cutover later: give manual or auto/],
      [["--cutover", "manual", "--max-outage", "5"], /--max-outage sets an automatic cutover/],
      [["--max-outage", "0.05"], /--max-outage 0.05: give seconds from 0.1 to 86400/],
      [["--max-outage", "soon"], /--max-outage soon/],
      [["--max-outage", ""], /--max-outage/],
      [["--max-passes", "2.5"], /--max-passes 2.5: give 0 to 50/],
      [["--max-passes", "51"], /--max-passes 51/],
      [["--not-before", "tomorrow"], /--not-before tomorrow: give an ISO date and time/],
      [["--not-after", "2026-12-03"], /--not-after 2026-12-03/],
      [["--not-before", "2026-12-03T22:00Z", "--not-after", "2026-12-03T21:00Z"], /window would be empty/],
    ];
    for (const [argv, message] of bad) {
      expect(() => cutoverFromFlags(flags(...argv)), argv.join(" ")).toThrow(CliApiError);
      expect(() => cutoverFromFlags(flags(...argv)), argv.join(" ")).toThrow(message);
    }
  });
});

describe("cutover lines", () => {
  it("says the predicted downtime with the changed bytes", () => {
    expect(predictionLine({ outageSeconds: 4.2, changedBytes: 12.3 * MiB })).toBe(
      "cut over now: about 4 s of downtime (12.3 MiB changed)",
    );
    expect(predictionLine({ outageSeconds: 72, changedBytes: 1.5 * 1024 * MiB })).toBe(
      "cut over now: about 1:12 of downtime (1.50 GiB changed)",
    );
    expect(predictionLine({ outageSeconds: 0.3, changedBytes: 0 })).toBe(
      "cut over now: under 1 s of downtime (0 B changed)",
    );
  });

  it("says why a cutover waits and what comes next", () => {
    expect(
      waitLine(
        {
          reason: "not_converging",
          message: "5 passes left 80 MiB changed: about 9 s, over the 5 s budget",
          until: null,
        },
        7,
      ),
    ).toBe(
      "waiting (not converging): 5 passes left 80 MiB changed: about 9 s, over the 5 s budget; waits for an operator: " +
        "blockferry migrate cutover 7, or change the policy with blockferry migrate policy 7",
    );
    const until = new Date(2026, 11, 3, 22, 0, 0);
    expect(waitLine({ reason: "before_window", message: "no stop before 22:00", until: until.toISOString() }, 7)).toBe(
      `waiting (before window): no stop before 22:00; looks again at ${until.toLocaleTimeString()}`,
    );
  });

  it("puts the measured outage beside the prediction and the budget", () => {
    const job = (o: Partial<Migration>) =>
      ({ outageMs: null, predictedOutageSeconds: null, cutoverPolicy: { mode: "manual" }, ...o }) as Migration;
    expect(outageText(job({}))).toBeNull();
    expect(outageText(job({ outageMs: 2_340 }))).toBe("outage 2.3 s");
    expect(outageText(job({ outageMs: 2_340, predictedOutageSeconds: 3.1 }))).toBe(
      "outage 2.3 s (predicted about 3 s)",
    );
    const budget = { mode: "auto", maxOutageSeconds: 2 } as const;
    expect(outageText(job({ outageMs: 2_340, cutoverPolicy: budget }))).toBe("outage 2.3 s, OVER the 2 s budget");
    expect(outageText(job({ outageMs: 1_500, cutoverPolicy: budget }))).toBe("outage 1.5 s, within the 2 s budget");
  });

  it("knows when the cutover is still ahead", () => {
    expect(cutoverAhead({ state: "waiting_cutover", phase: "wait_cutover" })).toBe(true);
    expect(cutoverAhead({ state: "running", phase: "final_delta" })).toBe(false);
    expect(cutoverAhead({ state: "succeeded", phase: "done" })).toBe(false);
  });
});

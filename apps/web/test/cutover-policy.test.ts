import type { Migration, OutagePrediction } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import {
  cutoverAhead,
  cutoverRequest,
  downtimeWords,
  emptyPolicyFields,
  fromLocalInput,
  newerPrediction,
  overBudget,
  policyFields,
  policyWords,
  predictionParts,
  readAutoPolicy,
  readPolicy,
  serverFieldErrors,
  toLocalInput,
} from "../src/lib/cutover-policy.ts";

const MiB = 2 ** 20;
const fields = (o: Partial<ReturnType<typeof emptyPolicyFields>>) => ({ ...emptyPolicyFields(), ...o });
const prediction = (o: Partial<OutagePrediction> = {}): OutagePrediction => ({
  outageSeconds: 4.2,
  changedBytes: 12.3 * MiB,
  changedRuns: 1234,
  parts: { stopSeconds: 1.5, deltaSeconds: 0.8, verifySeconds: 0.4, startSeconds: 1.5 },
  writeBytesPerSecond: 2 * MiB,
  basis: "delta rate from pass 2; stop and start: defaults",
  at: "2026-12-03T08:00:00.000Z",
  ...o,
});

describe("local datetime fields", () => {
  it("round-trips an ISO time through the input's local form, seconds only when there are some", () => {
    const iso = new Date(2026, 11, 3, 8, 30).toISOString();
    expect(toLocalInput(iso)).toBe("2026-12-03T08:30");
    expect(fromLocalInput("2026-12-03T08:30")).toBe(iso);
    const withSeconds = new Date(2026, 11, 3, 8, 30, 15).toISOString();
    expect(toLocalInput(withSeconds)).toBe("2026-12-03T08:30:15");
    expect(fromLocalInput(toLocalInput(withSeconds))).toBe(withSeconds);
  });

  it("refuses what is not a local date and time", () => {
    for (const bad of ["", "tomorrow", "2026-12-03", "2026-12-03T08:30Z", "2026-13-40T99:99"])
      expect(fromLocalInput(bad), bad).toBeNull();
    expect(toLocalInput(undefined)).toBe("");
    expect(toLocalInput("garbage")).toBe("");
  });
});

describe("readAutoPolicy", () => {
  it("keeps only the fields that are set", () => {
    expect(readAutoPolicy(emptyPolicyFields())).toEqual({ policy: { mode: "auto" }, errors: {} });
    const notBefore = new Date(2026, 11, 3, 22, 0).toISOString();
    expect(readAutoPolicy(fields({ maxOutageSeconds: " 5 ", maxPasses: "3", notBefore: "2026-12-03T22:00" }))).toEqual({
      policy: { mode: "auto", maxOutageSeconds: 5, maxPasses: 3, notBefore },
      errors: {},
    });
  });

  it("names each unusable field with the contract's bounds", () => {
    const r = readAutoPolicy(fields({ maxOutageSeconds: "0.05", maxPasses: "2.5", notBefore: "soon" }));
    expect(r.policy).toBeNull();
    expect(r.errors).toEqual({
      maxOutageSeconds: "Seconds from 0.1 to 86400 (a day).",
      maxPasses: "A whole number from 0 to 50.",
      notBefore: "Not a date and time.",
    });
    expect(readAutoPolicy(fields({ maxOutageSeconds: "86401" })).errors.maxOutageSeconds).toBeDefined();
    expect(readAutoPolicy(fields({ maxPasses: "51" })).errors.maxPasses).toBeDefined();
    expect(readAutoPolicy(fields({ maxPasses: "0" })).policy).toEqual({ mode: "auto", maxPasses: 0 });
  });

  it("refuses an empty window", () => {
    const r = readAutoPolicy(fields({ notBefore: "2026-12-03T22:00", notAfter: "2026-12-03T21:00" }));
    expect(r.policy).toBeNull();
    expect(Object.keys(r.errors)).toEqual(["notAfter"]);
  });

  it("reads back what policyFields wrote", () => {
    const p = {
      mode: "auto" as const,
      maxOutageSeconds: 2.5,
      maxPasses: 4,
      notBefore: new Date(2026, 11, 3, 22, 0).toISOString(),
      notAfter: new Date(2026, 11, 4, 6, 0).toISOString(),
    };
    expect(readAutoPolicy(policyFields(p)).policy).toEqual(p);
    expect(policyFields({ mode: "manual" })).toEqual(emptyPolicyFields());
  });
});

describe("the request's cutover", () => {
  it("stays the short string without a budget, pass limit or window", () => {
    expect(cutoverRequest("manual", fields({ maxOutageSeconds: "5" }))).toBe("manual");
    expect(cutoverRequest("auto", emptyPolicyFields())).toBe("auto");
    expect(cutoverRequest("auto", fields({ maxOutageSeconds: " " }))).toBe("auto");
  });

  it("is the policy object when any is set, and null while one is unusable", () => {
    expect(cutoverRequest("auto", fields({ maxOutageSeconds: "5" }))).toEqual({ mode: "auto", maxOutageSeconds: 5 });
    expect(cutoverRequest("auto", fields({ maxPasses: "-1" }))).toBeNull();
    expect(readPolicy("manual", fields({ maxPasses: "-1" }))).toEqual({ policy: { mode: "manual" }, errors: {} });
  });
});

describe("serverFieldErrors", () => {
  it("puts a 400's details at the fields they name, and ignores the rest", () => {
    expect(
      serverFieldErrors([
        { instancePath: "/maxOutageSeconds", message: "must be >= 0.1" },
        { instancePath: "/maxOutageSeconds", message: "second complaint" },
        { instancePath: "", message: "must match a schema in anyOf" },
        "noise",
      ]),
    ).toEqual({ maxOutageSeconds: "The server refused it: must be >= 0.1." });
    expect(serverFieldErrors(undefined)).toEqual({});
  });
});

describe("words", () => {
  const time = (iso: string) => `T(${iso.slice(11, 16)})`;
  it("says the policy in a line", () => {
    expect(policyWords({ mode: "manual" }, time)).toBe("manual: an operator cuts over");
    expect(policyWords({ mode: "auto" }, time)).toBe("automatic, as soon as the copy is in sync");
    expect(
      policyWords({ mode: "auto", maxOutageSeconds: 5, maxPasses: 1, notBefore: "2026-12-03T22:00:00.000Z" }, time),
    ).toBe("automatic, outage budget 5 s, up to 1 catch-up pass, not before T(22:00)");
  });

  it("says the predicted downtime and its parts", () => {
    expect(downtimeWords(prediction())).toBe("about 4 s of downtime");
    expect(downtimeWords(prediction({ outageSeconds: 72 }))).toBe("about 1:12 of downtime");
    expect(predictionParts(prediction())).toEqual([
      { label: "Changed since the last pass", value: "12.3 MiB in 1,234 runs" },
      { label: "Stop the VM", value: "1.5 s" },
      { label: "Final delta", value: "0.8 s" },
      { label: "Verify", value: "0.4 s" },
      { label: "Start the VM", value: "1.5 s" },
      { label: "The VM writes", value: "2.00 MiB/s of changes" },
    ]);
    expect(predictionParts(prediction({ writeBytesPerSecond: null })).at(-1)?.value).toBe("not measured yet");
  });

  it("takes the newer of two predictions", () => {
    const old = prediction();
    const fresh = prediction({ at: "2026-12-03T08:00:05.000Z", outageSeconds: 3 });
    expect(newerPrediction(old, fresh)).toBe(fresh);
    expect(newerPrediction(fresh, old)).toBe(fresh);
    expect(newerPrediction(null, old)).toBe(old);
    expect(newerPrediction(undefined, null)).toBeNull();
  });
});

describe("budget and timing", () => {
  const job = (o: Partial<Migration>) => ({ cutoverPolicy: { mode: "manual" }, outageMs: null, ...o }) as Migration;
  it("marks a measured outage past the budget", () => {
    const budget = { mode: "auto", maxOutageSeconds: 5 } as const;
    expect(overBudget(job({ cutoverPolicy: budget, outageMs: 5_001 }))).toBe(true);
    expect(overBudget(job({ cutoverPolicy: budget, outageMs: 5_000 }))).toBe(false);
    expect(overBudget(job({ cutoverPolicy: budget }))).toBe(false);
    expect(overBudget(job({ outageMs: 60_000 }))).toBe(false);
  });

  it("knows when the cutover is still ahead", () => {
    expect(cutoverAhead({ state: "running", phase: "catch_up" })).toBe(true);
    expect(cutoverAhead({ state: "waiting_cutover", phase: "wait_cutover" })).toBe(true);
    expect(cutoverAhead({ state: "running", phase: "stop_vm" })).toBe(false);
    expect(cutoverAhead({ state: "failed", phase: "catch_up" })).toBe(false);
  });
});

import { JobState, PHASES } from "@blockferry/contracts";
import { expect, it } from "vitest";
import { JOB_STATES, PHASE_ORDER } from "../src/lib/job-vocabulary.ts";

it("lists the phases in the contracts' order", () => {
  expect([...PHASE_ORDER]).toEqual([...PHASES]);
});

it("lists every job state of the contracts", () => {
  const fromSchema = (JobState as unknown as { anyOf: { const: string }[] }).anyOf.map((s) => s.const);
  expect([...JOB_STATES].sort()).toEqual([...fromSchema].sort());
});

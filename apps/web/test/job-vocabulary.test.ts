import { JobState, PhaseSchema } from "@blockferry/contracts";
import {
  ACTIVE_JOB_STATES,
  JOB_STATE_LABELS,
  JOB_STATES,
  PHASE_LABELS,
  PHASES,
  TERMINAL_JOB_STATES,
} from "@blockferry/contracts/vocabulary";
import { expect, it } from "vitest";
import { phaseLabel } from "../src/lib/format.ts";

it("builds the API schemas from the one vocabulary", () => {
  expect(JobState.enum).toEqual([...JOB_STATES]);
  expect(PhaseSchema.enum).toEqual([...PHASES]);
});

it("sorts every job state into active or terminal, never both", () => {
  const all = [...ACTIVE_JOB_STATES, ...TERMINAL_JOB_STATES];
  expect([...all].sort()).toEqual([...JOB_STATES].sort());
  expect(new Set(all).size).toBe(all.length);
  expect(TERMINAL_JOB_STATES).toContain("rolled_back");
});

it("labels every state and phase", () => {
  expect(Object.keys(JOB_STATE_LABELS).sort()).toEqual([...JOB_STATES].sort());
  expect(Object.keys(PHASE_LABELS)).toEqual([...PHASES]);
  expect(phaseLabel("full_copy")).toBe("full copy");
  expect(phaseLabel("some_future_phase")).toBe("some future phase");
  // Words, never a key: no underscore, no camelCase left in any label.
  for (const label of [...Object.values(PHASE_LABELS), ...Object.values(JOB_STATE_LABELS)])
    expect(label).toMatch(/^[a-z][a-zA-Z -]*$/);
  expect(PHASE_LABELS.wait_cutover).toBe("waiting for cutover");
});

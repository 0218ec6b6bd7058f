// The point of no return, over a real migrated SQLite database: a cancel and the runner entering start_vm race
// through conditional updates, and exactly one of them wins.
import { afterEach, describe, expect, it } from "vitest";
import { ConflictError } from "../../src/errors.ts";
import type { HostShell, PhaseFn } from "../../src/jobs/context.ts";
import { createJobExecutor } from "../../src/jobs/execute-job.ts";
import type { tempDb } from "../support/helpers.ts";
import { serviceJob } from "../support/service-job.ts";

describe("cancel around the point of no return", () => {
  let t: ReturnType<typeof tempDb>;
  afterEach(() => t.cleanup());

  function setup(phases: (cancel: () => unknown) => Record<string, PhaseFn>) {
    const seeded = serviceJob();
    t = seeded.t;
    const { a, jobs, hub, service, job } = seeded;
    jobs.updateIfState(job.id, ["queued"], { phase: "verify" });
    const ran: string[] = [];
    const shell = { hostId: a, name: "a" } as HostShell;
    const execute = createJobExecutor({
      jobs,
      hub,
      phases: phases(() => service.cancel(job.id)),
      async compensate() {
        ran.push("compensate");
      },
      shellFor: async () => shell,
    });
    const claimed = jobs.claim(job.id, "runner-1", 60_000);
    if (!claimed) throw new Error("claim failed");
    const run = () => execute(claimed, { owner: "runner-1", signal: new AbortController().signal });
    return { run, ran, state: () => jobs.get(job.id) };
  }

  it("a cancel accepted while verify runs rolls back instead of starting the VM, even without its interrupt", async () => {
    const s = setup((cancel) => ({
      async verify() {
        cancel();
        return { next: "start_vm" };
      },
      async start_vm() {
        s.ran.push("start_vm");
        return { next: "cleanup" };
      },
    }));
    await s.run();
    expect(s.ran).toEqual(["compensate"]);
    expect(s.state()).toMatchObject({ state: "cancelled", phase: "verify" });
  });

  it("from start_vm on a cancel is refused with a 409 that says why, and the migration finishes", async () => {
    const refusals: unknown[] = [];
    const s = setup((cancel) => ({
      async verify() {
        return { next: "start_vm" };
      },
      async start_vm() {
        try {
          cancel();
        } catch (err) {
          refusals.push(err);
        }
        return { next: "cleanup" };
      },
      async cleanup() {
        try {
          cancel();
        } catch (err) {
          refusals.push(err);
        }
        return { next: "done" };
      },
    }));
    await s.run();
    const errors = refusals.filter((r) => r instanceof Error);
    expect(errors).toHaveLength(2);
    for (const err of errors) {
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as ConflictError).message).toMatch(/past the point of no return/);
      expect((err as ConflictError).message).toMatch(/lose everything it wrote on the target/);
      expect((err as ConflictError).details).toMatchObject({ reason: "past_point_of_no_return" });
    }
    expect(s.ran).toEqual([]);
    expect(s.state()).toMatchObject({ state: "succeeded", cancelRequested: false });
  });
});

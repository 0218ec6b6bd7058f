// Where the VM is during the outage, and what Retry and Cancel would do to it, as the migration view derives it from
// the phase state the real executor stores in a real migrated SQLite database.
import type { PhaseState, VmControl } from "@blockferry/contracts";
import type { Phase } from "@blockferry/contracts/vocabulary";
import { afterEach, describe, expect, it } from "vitest";
import { HostUnreachableError } from "../../src/hosts/transport/errors.ts";
import type { HostShell, PhaseContext, PhaseFn } from "../../src/jobs/context.ts";
import { createJobExecutor } from "../../src/jobs/execute-job.ts";
import { toMigration } from "../../src/jobs/migration-view.ts";
import { decideStart } from "../../src/jobs/start-fence.ts";
import type { tempDb } from "../support/helpers.ts";
import { serviceJob } from "../support/service-job.ts";

const TARGET_ENDPOINT = "root@127.0.0.1:46495";
const libvirt: VmControl = { controller: "libvirt", domain: "vm1" };

describe("the VM's whereabouts in the migration view", () => {
  let t: ReturnType<typeof tempDb>;
  afterEach(() => t.cleanup());

  /** A job in `phase` with `phaseState`, run by the real executor over the given phases. */
  function seed(
    phase: Phase,
    phaseState: PhaseState,
    phases: Record<string, PhaseFn>,
    o: { rollBackFails?: boolean } = {},
  ) {
    const seeded = serviceJob({ vm: libvirt });
    t = seeded.t;
    const { a, b, jobs, hub, service, job } = seeded;
    jobs.updateIfState(job.id, ["queued"], { state: "running", phase, phaseState });
    const execute = createJobExecutor({
      jobs,
      hub,
      phases,
      async compensate() {},
      async rollBack() {
        if (o.rollBackFails) throw new Error("virsh start vm1 exited with 1");
      },
      shellFor: async (hostId) =>
        ({
          hostId,
          name: hostId === a ? "lab1" : "lab2",
          endpoint: hostId === b ? TARGET_ENDPOINT : undefined,
        }) as HostShell,
    });
    const run = async () => {
      const claimed = jobs.claim(job.id, "runner-1", 60_000);
      if (!claimed) throw new Error("claim failed");
      await execute(claimed, { owner: "runner-1", signal: new AbortController().signal });
    };
    const view = () => {
      const row = jobs.get(job.id);
      if (!row) throw new Error("job gone");
      return toMigration(row);
    };
    return { a, b, run, view, service, jobId: job.id };
  }

  const unreachableTarget = async () => {
    throw new HostUnreachableError(TARGET_ENDPOINT, `connect ECONNREFUSED ${TARGET_ENDPOINT.slice(5)}`);
  };

  it("while the cutover runs: down on the source since the stop, and a cancel would start it there again", () => {
    const stoppedAt = Date.parse("2026-12-03T08:31:27Z");
    const s = seed("final_delta", { vmStoppedAt: stoppedAt }, {});
    expect(s.view().vmOutage).toEqual({
      state: "down",
      since: "2026-12-03T08:31:27.000Z",
      stoppedOn: s.a,
      startingOn: null,
      outageMs: null,
      retry: null,
      cancel: "start_on_source",
    });
  });

  it("before the stop and after the start on the target there is no outage to show", () => {
    const before = seed("wait_cutover", {}, {});
    expect(before.view().vmOutage).toBeNull();
    t.cleanup();
    const after = seed("cleanup", { vmStoppedAt: 1, vmStartedAt: 2, startDecision: { host: "target", at: 2 } }, {});
    expect(after.view().vmOutage).toBeNull();
  });

  it("a target lost in the final delta: rolled back, back on the source, the error names the host", async () => {
    const s = seed("final_delta", { vmStoppedAt: Date.now() - 5000 }, { final_delta: unreachableTarget });
    await s.run();
    const m = s.view();
    expect(m.state).toBe("rolled_back");
    expect(m.error?.message).toBe(`cannot reach lab2 (${TARGET_ENDPOINT}): connection refused`);
    expect(m.vmOutage).toMatchObject({
      state: "back_on_source",
      stoppedOn: s.a,
      outageMs: expect.any(Number),
      retry: "cut_over_again",
      cancel: "keeps_running_on_source",
    });
    expect(m.vmOutage?.outageMs).toBeGreaterThanOrEqual(5000);
    // A retry starts over from wait_cutover with the VM running: nothing is down until the next stop.
    s.service.retry(s.jobId);
    expect(s.view().vmOutage).toBeNull();
  });

  it("a rollback that failed: down, a retry resumes the cutover from the stop, a cancel starts it on the source", async () => {
    const s = seed(
      "final_delta",
      { vmStoppedAt: Date.now() - 5000 },
      { final_delta: unreachableTarget },
      { rollBackFails: true },
    );
    await s.run();
    const m = s.view();
    expect(m).toMatchObject({ state: "failed", phase: "stop_vm", error: { code: "ROLLBACK_FAILED" } });
    expect(m.vmOutage).toMatchObject({
      state: "down",
      startingOn: null,
      retry: "resume_then_start_on_target",
      cancel: "start_on_source",
    });
  });

  it("a failed start on the target: a retry repeats it, a cancel is refused (the VM may run there)", async () => {
    const s = seed(
      "start_vm",
      { vmStoppedAt: Date.now() - 5000 },
      {
        async start_vm(ctx: PhaseContext) {
          decideStart(ctx, "target");
          throw new Error("virsh start vm1 exited with 1");
        },
      },
    );
    await s.run();
    const m = s.view();
    expect(m.state).toBe("failed");
    expect(m.vmOutage).toMatchObject({
      state: "starting",
      startingOn: s.b,
      retry: "start_on_target",
      cancel: "refused",
    });
  });
});

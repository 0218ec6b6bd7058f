// Fencing and rollback around the outage, over a real migrated SQLite database: the host the VM is to start on is
// stored before any start command, a failure during the outage starts it again on the source (never once a start on
// the target was decided), and a server resumed after a crash honours the stored decision.
import type { Phase } from "@blockferry/contracts/vocabulary";
import { afterEach, describe, expect, it } from "vitest";
import type { HostShell, PhaseContext, PhaseFn, PhaseState } from "../../src/jobs/context.ts";
import { createJobExecutor } from "../../src/jobs/execute-job.ts";
import { decideStart, FencingError } from "../../src/jobs/start-fence.ts";
import type { tempDb } from "../support/helpers.ts";
import { serviceJob } from "../support/service-job.ts";

describe("fencing around the outage", () => {
  let t: ReturnType<typeof tempDb>;
  afterEach(() => t.cleanup());

  /** A job resumed in `phase` with `phaseState`, as a server restarted after a crash finds it. */
  function resume(
    phase: Phase,
    phaseState: PhaseState,
    phases: (ran: string[]) => Record<string, PhaseFn>,
    opts: { rollBackFails?: boolean } = {},
  ) {
    const seeded = serviceJob();
    t = seeded.t;
    const { a, jobs, hub, service, job } = seeded;
    jobs.updateIfState(job.id, ["queued"], { state: "running", phase, phaseState });
    const ran: string[] = [];
    /** What the database held when each start ran: the decision must be there before the command. */
    const storedAtStart: Array<PhaseState["startDecision"]> = [];
    const execute = createJobExecutor({
      jobs,
      hub,
      phases: phases(ran),
      async compensate() {
        ran.push("compensate");
      },
      async rollBack() {
        storedAtStart.push((jobs.get(job.id)?.phaseState as PhaseState | undefined)?.startDecision);
        ran.push("start on source");
        if (opts.rollBackFails) throw new Error("no start command for the source was given");
      },
      shellFor: async (hostId) => ({ hostId, name: hostId === a ? "a" : "b" }) as HostShell,
    });
    const claimed = jobs.claim(job.id, "runner-2", 60_000);
    if (!claimed) throw new Error("claim failed");
    const run = () => execute(claimed, { owner: "runner-2", signal: new AbortController().signal });
    /** The operator's Retry, then a runner picking the job up again. */
    const retry = async () => {
      service.retry(job.id);
      const again = jobs.claim(job.id, "runner-2", 60_000);
      if (!again) throw new Error("claim after retry failed");
      await execute(again, { owner: "runner-2", signal: new AbortController().signal });
    };
    return { run, retry, ran, storedAtStart, row: () => jobs.get(job.id), cancel: () => service.cancel(job.id) };
  }

  /** start_vm as the product writes it: decide, then start. */
  const startVm = (ran: string[], fail = false) =>
    async function start_vm(ctx: PhaseContext) {
      decideStart(ctx, "target");
      ran.push("start on target");
      if (fail) throw new Error("start command failed");
      return { next: "cleanup" as const };
    };

  it("a failure in the final delta records the source decision before the restart, and ends rolled_back", async () => {
    const s = resume("final_delta", { vmStoppedAt: Date.now() - 5000 }, (ran) => ({
      async final_delta() {
        throw Object.assign(new Error("connection to b lost"), { code: "CONNECTION_LOST" });
      },
      start_vm: startVm(ran),
    }));
    await s.run();
    expect(s.ran).toEqual(["start on source"]);
    expect(s.storedAtStart).toEqual([{ host: "source", at: expect.any(Number) }]);
    const row = s.row();
    expect(row).toMatchObject({ state: "rolled_back", phase: "wait_cutover", cutoverRequested: false });
    expect(row?.error).toMatchObject({
      code: "ROLLED_BACK",
      phase: "final_delta",
      message: expect.stringMatching(/connection to b lost/),
    });
    // The VM runs again: a retry decides afresh, and its final delta is a new journal pass.
    expect(row?.phaseState).toMatchObject({ rollbacks: 1 });
    const state = row?.phaseState as PhaseState | undefined;
    expect(state?.vmStoppedAt).toBeUndefined();
    expect(state?.startDecision).toBeUndefined();
  });

  it("resumed after a crash during a rollback, finishes it and never starts the VM on the target", async () => {
    const s = resume("verify", { vmStoppedAt: 1, startDecision: { host: "source", at: 2 } }, (ran) => ({
      async verify() {
        ran.push("verify");
        return { next: "start_vm" as const };
      },
      start_vm: startVm(ran),
    }));
    await s.run();
    expect(s.ran).toEqual(["start on source"]);
    expect(s.row()).toMatchObject({ state: "rolled_back", phase: "wait_cutover" });
  });

  it("resumed in start_vm after the target start was decided: a failure never starts the VM on the source", async () => {
    const s = resume("start_vm", { vmStoppedAt: 1, startDecision: { host: "target", at: 2 } }, (ran) => ({
      start_vm: startVm(ran, true),
    }));
    await s.run();
    expect(s.ran).toEqual(["start on target"]);
    expect(s.row()).toMatchObject({ state: "failed", phase: "start_vm" });
    // Nor by a cancel: the VM may run on the target.
    expect(() => s.cancel()).toThrow(/past the point of no return|started/);
  });

  it("a start on one host is refused once the other was decided", () => {
    const state: PhaseState = {};
    const ctx = { state, save: (p: Partial<PhaseState>) => Object.assign(state, p) };
    decideStart(ctx, "target");
    decideStart(ctx, "target"); // the same decision again: a resumed start_vm
    expect(() => decideStart(ctx, "source")).toThrow(FencingError);
    expect(state.startDecision?.host).toBe("target");
  });

  it("a rollback that fails leaves the job to be retried from stop_vm, not to finish the rollback again", async () => {
    const s = resume(
      "final_delta",
      { vmStoppedAt: Date.now() - 5000 },
      (ran) => ({
        async stop_vm() {
          ran.push("stop on source");
          return { next: "final_delta" as const };
        },
        async final_delta() {
          ran.push("final delta");
          if (ran.filter((r) => r === "final delta").length === 1) throw new Error("connection to b lost");
          return { next: "verify" as const };
        },
        async verify() {
          return { next: "start_vm" as const };
        },
        start_vm: startVm(ran),
        async cleanup() {
          return { next: "done" as const };
        },
      }),
      { rollBackFails: true },
    );
    await s.run();
    expect(s.row()).toMatchObject({ state: "failed", phase: "stop_vm", error: { code: "ROLLBACK_FAILED" } });
    const state = s.row()?.phaseState;
    expect(state?.startDecision).toBeUndefined();
    expect(state).toMatchObject({ rollbacks: 1 });
    expect(s.ran).toEqual(["final delta", "start on source"]);

    await s.retry();
    expect(s.row()).toMatchObject({ state: "succeeded" });
    expect(s.ran.slice(2)).toEqual(["stop on source", "final delta", "start on target"]);
  });
});

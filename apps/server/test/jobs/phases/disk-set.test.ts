// A VM with two disks, over a real migrated database, fake LVM hosts that run the commands the phases send, and the
// recording mover: the set's phases snapshot, copy, delta and verify both disks, stop and start the VM once, roll
// both back when disk 1 fails during the outage, and resume a crashed set without redoing what either disk finished.

import { lvremoveCommand, validateLvName, validateVgName } from "@blockferry/lvm";
import { afterEach, describe, expect, it } from "vitest";
import { createChunkMapRepo } from "../../../src/db/repositories/chunk-map.ts";
import { createEventsRepo } from "../../../src/db/repositories/events.ts";
import { createHostsRepo } from "../../../src/db/repositories/hosts.ts";
import { createJobDisksRepo } from "../../../src/db/repositories/job-disks.ts";
import { createJobObjectsRepo } from "../../../src/db/repositories/job-objects.ts";
import { createJobsRepo } from "../../../src/db/repositories/jobs.ts";
import { createTransferJournal } from "../../../src/db/repositories/transfer-journal.ts";
import { hosts, jobDisks } from "../../../src/db/schema.ts";
import { EventHub } from "../../../src/events/hub.ts";
import type { HostShell, RunnablePhase } from "../../../src/jobs/context.ts";
import { createJobExecutor } from "../../../src/jobs/execute-job.ts";
import { createMigrationHistory } from "../../../src/jobs/migration-history.ts";
import { createPhases, type PhaseDeps } from "../../../src/jobs/phases/index.ts";
import { abortableSleep } from "../../../src/jobs/phases/shared.ts";
import { FakeLvmHost } from "../../support/fake-host.ts";
import { tempDb } from "../../support/helpers.ts";
import { phaseContext, stored } from "../../support/phase-context.ts";
import { MIB, VM_COMMANDS } from "../../support/phase-setup.ts";
import { RecordingMover } from "../../support/recording-mover.ts";

const SIZES = [64 * MIB, 32 * MIB] as const;

function twoDiskSetup() {
  const t = tempDb();
  const [sourceHostId, targetHostId] = ["src", "dst"].map(
    (name) => t.db.insert(hosts).values({ name, address: "127.0.0.1", status: "trusted" }).returning().get().id,
  ) as [number, number];
  const jobs = createJobsRepo(t.db);
  const job = jobs.insert(
    {
      sourceHostId,
      sourceVg: "vg0",
      sourceLv: "vm1",
      targetHostId,
      targetVg: "vg0",
      targetLv: "vm1",
      vm: VM_COMMANDS,
      cutover: "auto",
      options: {},
      phase: "snapshot",
      phaseState: { sizeBytes: SIZES[0] },
    },
    [{ sourceVg: "vg0", sourceLv: "vm2", targetVg: "vg0", targetLv: "vm2" }],
  );
  // What prechecks would have measured (they need the tool probes the fake hosts do not model).
  t.db
    .update(jobDisks)
    .set({ phaseState: { sizeBytes: SIZES[1] } })
    .run();
  const source = new FakeLvmHost(sourceHostId, "hv-src").addVg("vg0", 1024 * MIB);
  source.addLv("vg0", "vm1", SIZES[0]);
  source.addLv("vg0", "vm2", SIZES[1]);
  const target = new FakeLvmHost(targetHostId, "hv-dst").addVg("vg0", 1024 * MIB);
  target.vmRunning = false;
  const mover = new RecordingMover();
  const deps: PhaseDeps = {
    mover,
    objects: createJobObjectsRepo(t.db),
    disks: createJobDisksRepo(t.db),
    forgetCopies: (jobId, owner) => createTransferJournal(t.db).leased(owner).forgetJob(jobId),
    snapshotWatchMs: 5,
    changeReadMs: 20,
    sleep: (_ms, signal) => abortableSleep(5, signal),
  };
  const built = createPhases(deps);
  const context = (phase: RunnablePhase | undefined) =>
    phaseContext({ db: t.db, jobId: job.id, phase, source, target });
  /** Runs the phases from the stored one until `stopAt` (or done), each in a fresh context as a restarted runner would. */
  const runUntil = async (stopAt?: string) => {
    let phase = stored(t.db, job.id).job.phase;
    while (phase !== "done" && phase !== stopAt) {
      const { next } = await built.phases[phase as RunnablePhase](context(phase as RunnablePhase));
      phase = next;
      createJobsRepo(t.db).updateOwned(job.id, "phase-test-runner", { phase });
    }
  };
  const executor = () => {
    const hub = new EventHub(createEventsRepo(t.db));
    const shells = new Map<number, HostShell>([
      [sourceHostId, source],
      [targetHostId, target],
    ]);
    const execute = createJobExecutor({
      jobs,
      hub,
      phases: built.phases,
      compensate: built.compensate,
      rollBack: built.rollBack,
      discardCopies: built.discardCopies,
      shellFor: async (id) => shells.get(id) as HostShell,
    });
    return async () => {
      jobs.release(job.id, "phase-test-runner");
      const claimed = jobs.claim(job.id, "runner-1", 60_000);
      if (!claimed) throw new Error("claim failed");
      await execute(claimed, { owner: "runner-1", signal: new AbortController().signal });
      jobs.release(job.id, "runner-1");
    };
  };
  return {
    t,
    jobId: job.id,
    source,
    target,
    mover,
    runUntil,
    executor,
    compensate: () => built.compensate(context(undefined)),
    phases: built.phases,
    context,
    stored: () => stored(t.db, job.id),
    diskState: () => createJobDisksRepo(t.db).list(job.id)[1]?.phaseState,
    report: () =>
      createMigrationHistory({
        jobs,
        events: createEventsRepo(t.db),
        journal: createChunkMapRepo(t.db),
        objects: createJobObjectsRepo(t.db),
        hosts: createHostsRepo(t.db),
      }).report(job.id),
  };
}

describe("a migration of two disks", () => {
  let s: ReturnType<typeof twoDiskSetup>;
  afterEach(() => s.t.cleanup());

  it("snapshots, copies, deltas and verifies both disks, and stops and starts the VM once", async () => {
    s = twoDiskSetup();
    await s.runUntil();
    const full = s.mover.calls.filter((c) => c.kind === "full").map((c) => [c.from, c.to]);
    expect(full).toEqual(
      expect.arrayContaining([
        [`/dev/vg0/bf-${s.jobId}-s1`, "/dev/vg0/vm1"],
        [`/dev/vg0/bf-${s.jobId}-d1-s1`, "/dev/vg0/vm2"],
      ]),
    );
    const finals = s.mover.calls.filter((c) => c.pass === "final").map((c) => c.to);
    expect(finals).toEqual(["/dev/vg0/vm1", "/dev/vg0/vm2"]);
    expect(s.mover.verifies.map((v) => [v.target.device, v.deviceBytes])).toEqual([
      ["/dev/vg0/vm1", SIZES[0]],
      ["/dev/vg0/vm2", SIZES[1]],
    ]);
    expect(s.source.commands.filter((c) => c.startsWith("fake-vm stop"))).toHaveLength(1);
    expect(s.target.commands.filter((c) => c.startsWith("fake-vm start"))).toHaveLength(1);
    expect(s.target.lv("vg0", "vm1")?.sizeBytes).toBe(SIZES[0]);
    expect(s.target.lv("vg0", "vm2")?.sizeBytes).toBe(SIZES[1]);
    // No snapshot of either disk is left; both source LVs are kept.
    expect(s.source.lvNames("vg0").sort()).toEqual(["vm1", "vm2"]);
    expect(s.stored().liveObjects.filter((o) => o.startsWith("snapshot"))).toEqual([]);
    // Each kept source LV carries the job's migrated-away tag (decommission removes only LVs that do), and the
    // clean-up log tells how to remove them all: one confirm naming both.
    const tag = `blockferry_migrated_${s.jobId}`;
    expect([s.source.lv("vg0", "vm1")?.tags, s.source.lv("vg0", "vm2")?.tags]).toEqual([[tag], [tag]]);
    const logged = s
      .stored()
      .events.filter((e) => e.type === "job.log")
      .map((e) => (e.data as { message: string }).message);
    expect(
      logged.filter((m) => m.includes(`blockferry decommission ${s.jobId} --confirm vg0/vm1,vg0/vm2\``)),
    ).toHaveLength(2);
    const copied = s
      .stored()
      .events.filter((e) => e.type === "job.copied")
      .map((e) => (e.data as { disk?: number }).disk);
    expect(new Set(copied)).toEqual(new Set([0, 1]));
  });

  it("a failure on disk 1 in final_delta rolls the VM back to the source and removes both disks' LVs and snapshots; a retry starts over", async () => {
    s = twoDiskSetup();
    await s.runUntil("stop_vm");
    const journal = createTransferJournal(s.t.db);
    journal.plan({ jobId: s.jobId, disk: 1 }, "full-g1", [[0, SIZES[1]]]);
    s.mover.during = (call) => {
      if (call.pass === "final" && call.to === "/dev/vg0/vm2") throw new Error("target write failed on disk 1");
    };
    await s.executor()();
    expect(s.stored().job).toMatchObject({ state: "rolled_back", phase: "prechecks" });
    expect(s.source.vmRunning).toBe(true);
    expect(s.target.vmRunning).toBe(false);
    expect(s.target.commands.some((c) => c.startsWith("fake-vm start"))).toBe(false);
    // Nothing of the job is left on either host, and nothing it copied is remembered.
    expect(s.target.lvNames("vg0")).toEqual([]);
    expect(s.source.lvNames("vg0").sort()).toEqual(["vm1", "vm2"]);
    expect(s.stored().liveObjects).toEqual([]);
    expect(journal.ranges({ jobId: s.jobId, disk: 1 }, "full-g1")).toEqual([]);
    expect(s.stored().state).toMatchObject({ rollbacks: 1, snapshotGen: 2 });
    expect(s.stored().state.fullCopyDone).toBeUndefined();
    expect(s.diskState()).toEqual({ snapshotGen: 2 });
    const log = s
      .stored()
      .events.filter((e) => e.type === "job.log")
      .map((e) => String(e.data.message));
    expect(log).toContain("removed vg0/vm2 on hv-dst");
    expect(log.some((m) => m.includes("(starts over: snapshots and target LVs removed)"))).toBe(true);
    // The report keeps what the journal forgot: the passes both disks finished before the rollback, from the events.
    const discarded = () =>
      s.report().rollbacks.map((r) => ({ ...r, passes: r.discardedPasses.map((p) => [p.pass, p.disk, p.bytesRead]) }));
    const rollbacks = discarded();
    // Disk 0's final delta (nothing changed) finished before disk 1's failed.
    expect(rollbacks).toEqual([
      expect.objectContaining({
        attempt: 1,
        phase: "final_delta",
        reason: "target write failed on disk 1",
        outageMs: expect.any(Number),
        passes: [
          ["full-g1", 0, SIZES[0]],
          ["full-g1", 1, SIZES[1]],
          ["final", 0, 0],
        ],
      }),
    ]);

    // The retry (past its prechecks, which the fake hosts do not model) copies both disks whole from new snapshots.
    s.mover.during = undefined;
    const jobs = createJobsRepo(s.t.db);
    jobs.claim(s.jobId, "phase-test-runner", 60_000);
    const measured = { ...s.stored().state, sizeBytes: SIZES[0] };
    jobs.updateOwned(s.jobId, "phase-test-runner", { phase: "snapshot", phaseState: measured });
    createJobDisksRepo(s.t.db).saveState(s.jobId, 1, "phase-test-runner", { snapshotGen: 2, sizeBytes: SIZES[1] });
    const before = s.mover.calls.length;
    await s.runUntil();
    const full = s.mover.calls.slice(before).filter((c) => c.kind === "full");
    expect(full.map((c) => [c.from, c.to])).toEqual(
      expect.arrayContaining([
        [`/dev/vg0/bf-${s.jobId}-s2`, "/dev/vg0/vm1"],
        [`/dev/vg0/bf-${s.jobId}-d1-s2`, "/dev/vg0/vm2"],
      ]),
    );
    expect(s.target.lvNames("vg0").sort()).toEqual(["vm1", "vm2"]);
    expect(s.target.commands.filter((c) => c.startsWith("fake-vm start"))).toHaveLength(1);
    // The retry's passes are not among the discarded ones.
    expect(discarded()).toEqual(rollbacks);
  });

  it("a rollback whose target fails its removals leaves the target LVs recorded, for a retry to reuse", async () => {
    s = twoDiskSetup();
    await s.runUntil("stop_vm");
    s.mover.during = (call) => {
      if (call.pass === "final" && call.to === "/dev/vg0/vm2") throw new Error("target write failed on disk 1");
    };
    for (let i = 0; i < 2; i++) s.target.failNext((argv) => argv[0] === "lvremove", new Error("hv-dst: timed out"));
    await s.executor()();
    expect(s.stored().job).toMatchObject({ state: "rolled_back", phase: "prechecks" });
    expect(s.source.lvNames("vg0").sort()).toEqual(["vm1", "vm2"]);
    expect(s.target.lvNames("vg0").sort()).toEqual(["vm1", "vm2"]);
    expect(s.stored().liveObjects.filter((o) => o.startsWith("target_lv")).length).toBe(2);
    expect(s.stored().state).toMatchObject({ snapshotGen: 2, targetCreated: true });
    expect(s.diskState()).toEqual({ snapshotGen: 2, targetCreated: true });
    const log = s
      .stored()
      .events.filter((e) => e.type === "job.log")
      .map((e) => String(e.data.message));
    expect(log.some((m) => /not removed: removing vg0\/vm1 on hv-dst/.test(m))).toBe(true);
  });

  it("keeps the VM running when disk 1 fails the cutover gate, and says which volume", async () => {
    s = twoDiskSetup();
    await s.runUntil("stop_vm");
    await s.target.run(lvremoveCommand({ vg: validateVgName("vg0"), lv: validateLvName("vm2") }));
    const { next } = await s.phases.stop_vm(s.context("stop_vm"));
    expect(next).toBe("wait_cutover");
    expect(s.source.vmRunning).toBe(true);
    expect(s.source.commands.some((c) => c.startsWith("fake-vm stop"))).toBe(false);
    expect(s.stored().state.vmStoppedAt).toBeUndefined();
    const refused = s.stored().events.filter((e) => e.type === "job.cutover_refused");
    expect(refused.map((e) => (e.data as { reason: string }).reason)).toEqual(["vg0/vm2 is missing on hv-dst"]);
  });

  it("resumes after a crash without copying again what either disk finished", async () => {
    s = twoDiskSetup();
    await s.runUntil("final_delta");
    // A crash after disk 0's final delta was sent: the next runner sends disk 1's only.
    s.mover.during = (call) => {
      if (call.pass === "final" && call.to === "/dev/vg0/vm2") throw new Error("server crashed");
    };
    await expect(s.runUntil("verify")).rejects.toThrow(/server crashed/);
    expect(s.stored().state.finalCopiedPass).toBe("final");
    expect(s.diskState()?.finalCopiedPass).toBeUndefined();
    s.mover.during = undefined;
    const before = s.mover.calls.length;
    await s.runUntil();
    const after = s.mover.calls.slice(before);
    expect(after.filter((c) => c.kind !== "full").map((c) => [c.pass, c.to])).toEqual([["final", "/dev/vg0/vm2"]]);
    expect(after.filter((c) => c.kind === "full")).toEqual([]);
    expect(s.diskState()?.verifiedPass).toBe("final");
  });
});

// One migration ready for phase tests: a real temp database holding the job, a source host whose vg0 holds the
// VM's 64 MiB LV, an empty target vg0, a recording mover, and the real phases built over them.

import type { ProgressMessage, VmControl } from "@blockferry/contracts";
import { createJobObjectsRepo } from "../../src/db/repositories/job-objects.ts";
import type { NewJob } from "../../src/db/repositories/jobs.ts";
import type { PhaseContext, PhaseState, RunnablePhase } from "../../src/jobs/context.ts";
import { createPhases, type PhaseDeps } from "../../src/jobs/phases/index.ts";
import { abortableSleep } from "../../src/jobs/phases/shared.ts";
import { FakeLvmHost } from "./fake-host.ts";
import { tempDb } from "./helpers.ts";
import { seedJob } from "./job-seed.ts";
import { phaseContext, stored } from "./phase-context.ts";
import { RecordingMover } from "./recording-mover.ts";

export const MIB = 1 << 20;
export const VOLUME_BYTES = 64 * MIB;
/** VM control by shell commands the fake hosts model: `fake-vm stop|start` toggles `vmRunning`. */
export const VM_COMMANDS = {
  controller: "commands",
  stopSource: "fake-vm stop",
  startSource: "fake-vm start",
  startTarget: "fake-vm start {device}",
} satisfies VmControl;

/** The same, with a status command: the job can ask either host whether the VM runs there (fencing). */
export const VM_COMMANDS_WITH_STATUS = { ...VM_COMMANDS, status: "fake-vm status" } satisfies VmControl;

export function phaseSetup(o: { job?: Partial<NewJob>; state?: PhaseState; targetExtentBytes?: number } = {}) {
  const t = tempDb();
  const { job, sourceHostId, targetHostId } = seedJob(t.db, { phaseState: o.state ?? {}, ...o.job });
  const source = new FakeLvmHost(sourceHostId, "hv-src").addVg("vg0", 1024 * MIB);
  source.addLv("vg0", job.sourceLv, VOLUME_BYTES);
  const target = new FakeLvmHost(targetHostId, "hv-dst").addVg("vg0", 1024 * MIB, o.targetExtentBytes);
  target.vmRunning = false;
  const mover = new RecordingMover();
  /** The live progress messages the phases sent, in order. */
  const progress: ProgressMessage[] = [];
  const deps: PhaseDeps = {
    mover,
    objects: createJobObjectsRepo(t.db),
    // Fast snapshot checks and cutover polls, so a test waits milliseconds for the state it waits on.
    snapshotWatchMs: 5,
    changeReadMs: 20,
    sleep: (_ms, signal) => abortableSleep(5, signal),
  };
  const { phases, compensate } = createPhases(deps);
  /** A fresh context from what is stored: each call is what a (re)started runner would build. */
  const context = (phase: RunnablePhase | undefined, signal?: AbortSignal): PhaseContext =>
    phaseContext({ db: t.db, jobId: job.id, phase, source, target, signal, onProgress: (p) => progress.push(p) });
  const run = (phase: RunnablePhase, signal?: AbortSignal) => phases[phase](context(phase, signal));
  return {
    jobId: job.id,
    db: t.db,
    source,
    target,
    mover,
    progress,
    run,
    compensate: (signal?: AbortSignal) => compensate(context(undefined, signal)),
    stored: () => stored(t.db, job.id),
    cleanup: t.cleanup,
  };
}
export type PhaseSetup = ReturnType<typeof phaseSetup>;

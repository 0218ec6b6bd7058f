import { messageOf } from "../errors.ts";
import type { PhaseContext, PhaseState } from "./context.ts";
import type { VmController } from "./vm/controller.ts";

export type StartHost = "source" | "target";

/** Phases in which the VM may be stopped by us and not yet started anywhere: the outage. */
const OUTAGE_PHASES = ["stop_vm", "final_delta", "verify", "start_vm"];

export class FencingError extends Error {
  readonly code = "FENCED";
}

/**
 * Fencing: which host the VM is to be started on is stored in the job's phase state before any start command is
 * issued, and a start on the other host is refused from then on. A server that crashes around a start and resumes
 * therefore repeats the same decision (the start commands are idempotent), and never starts the VM on both hosts.
 */
export function decideStart(ctx: Pick<PhaseContext, "state" | "save">, host: StartHost): void {
  const recorded = ctx.state.startDecision?.host;
  if (recorded && recorded !== host)
    throw new FencingError(
      `refusing to start the VM on the ${host}: a start on the ${recorded} was decided at ` +
        `${new Date(ctx.state.startDecision?.at ?? 0).toISOString()} and may have run`,
    );
  if (!recorded) ctx.save({ startDecision: { host, at: Date.now() } });
}

const other = (host: StartHost): StartHost => (host === "source" ? "target" : "source");

/**
 * Starts the VM on `host` at most once across crashes. The decision is stored before anything runs (decideStart);
 * then the VM's state is asked on both hosts: running on the other host refuses the start (never on both), running
 * here already means a start issued before a crash took effect and its answer was lost, so it is not issued again.
 * A controller that cannot tell (`commands` without a status command) issues the start again: its start command
 * must then be idempotent. Returns whether a start command was issued.
 */
export async function startFenced(
  ctx: Pick<PhaseContext, "state" | "save" | "log">,
  host: StartHost,
  vm: Pick<VmController, "runningOn">,
  start: () => Promise<void>,
  signal: AbortSignal,
): Promise<boolean> {
  decideStart(ctx, host);
  // A host that cannot be asked (a rollback because the target died) does not block the start: the decision above
  // guarantees no start was ever issued there by this job.
  const ask = async (where: StartHost) => {
    try {
      return await vm.runningOn(where, signal);
    } catch (err) {
      signal.throwIfAborted();
      ctx.log("warn", `could not ask the ${where} whether the VM runs there: ${messageOf(err)}`);
      return null;
    }
  };
  if ((await ask(other(host))) === true)
    throw new FencingError(`refusing to start the VM on the ${host}: it is running on the ${other(host)}`);
  if ((await ask(host)) === true) {
    ctx.log(
      "warn",
      `the VM is already running on the ${host} (a start before a restart took effect): not started again`,
    );
    return false;
  }
  await start();
  return true;
}

/**
 * Whether a failure now is answered by starting the VM again on the source (a rollback): we stopped it, it was not
 * started since, and no start on the target was decided (that start may have run: the target may have the VM).
 */
export function mayRollBack(phase: string, state: PhaseState): boolean {
  return (
    OUTAGE_PHASES.includes(phase) &&
    Boolean(state.vmStoppedAt) &&
    !state.vmStartedAt &&
    state.startDecision?.host !== "target"
  );
}

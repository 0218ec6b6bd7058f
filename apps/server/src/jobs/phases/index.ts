import type { PhaseContext, PhaseTable } from "../context.ts";
import { TargetLostError } from "../outage-guard.ts";
import { copyPhases } from "./copy.ts";
import { createCompensation, cutoverPhases, restartOnSource } from "./cutover.ts";
import { discardCopies } from "./discard-copies.ts";
import { diskSetPhases } from "./disk-set.ts";
import { preparePhases } from "./prepare.ts";
import type { PhaseDeps } from "./shared.ts";

export type { PhaseDeps } from "./shared.ts";

/** Every phase by name, in the order a job normally passes them (see PHASES in contracts). */
export function createPhases(deps: PhaseDeps): {
  phases: PhaseTable;
  compensate: ReturnType<typeof createCompensation>;
  rollBack(ctx: PhaseContext): Promise<void>;
  discardCopies(ctx: PhaseContext, cause: unknown): Promise<string[]>;
} {
  return {
    phases: diskSetPhases(deps, { ...preparePhases(deps), ...copyPhases(deps), ...cutoverPhases(deps) }),
    compensate: createCompensation(deps),
    rollBack: (ctx) => restartOnSource(ctx, deps),
    discardCopies: (ctx, cause) => discardCopies(ctx, deps, { targetLost: cause instanceof TargetLostError }),
  };
}

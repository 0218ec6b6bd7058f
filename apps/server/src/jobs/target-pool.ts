import { DomainError, messageOf } from "../errors.ts";
import type { PhaseContext } from "./context.ts";
import { findLv } from "./lvm-ops.ts";

/** The target LV's thin pool ran out of room: every later write fails until an operator extends it. */
export class TargetPoolFullError extends DomainError {
  constructor(message: string) {
    super("TARGET_POOL_FULL", message);
  }
}

/**
 * After a copy to the target failed: when the target LV lives in a thin pool that is out of data or metadata
 * space, that is the cause, and the operator gets it in words (the pool, its fill, the fix) instead of a dd error.
 * Null when the target is not thin, the pool has room, or the pool cannot be read (the original error then stands).
 */
export async function targetPoolFull(
  ctx: Pick<PhaseContext, "job" | "target">,
  signal: AbortSignal,
): Promise<TargetPoolFullError | null> {
  const { job } = ctx;
  try {
    const poolName = job.targetThinPool ?? (await findLv(ctx.target, job.targetVg, job.targetLv, signal))?.pool;
    if (!poolName) return null;
    const pool = await findLv(ctx.target, job.targetVg, poolName, signal);
    if (!pool) return null;
    const data = pool.dataPercent ?? 0;
    const meta = pool.metadataPercent ?? 0;
    // lv_attr's 9th character: D is "out of data space", M "metadata read only".
    const health = pool.attr[8] ?? "-";
    if (data < 100 && meta < 100 && health !== "D" && health !== "M") return null;
    const what = meta >= 100 || health === "M" ? "metadata" : "data";
    return new TargetPoolFullError(
      `thin pool ${job.targetVg}/${poolName} on ${ctx.target.name} is out of ${what} space ` +
        `(data ${data}%, metadata ${meta}%): the VM keeps running on the source; extend the pool ` +
        `(lvextend -L +SIZE ${job.targetVg}/${poolName}${what === "metadata" ? " --poolmetadatasize" : ""}) and retry`,
    );
  } catch (err) {
    if (signal.aborted) throw err;
    return null;
  }
}

/** `err` as the pool being full when it is (see targetPoolFull); otherwise `err` itself. */
export async function explainTargetFailure(
  ctx: Pick<PhaseContext, "job" | "target">,
  err: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  if (signal.aborted) return err;
  const full = await targetPoolFull(ctx, signal);
  if (full) full.message += ` (the copy failed with: ${messageOf(err).slice(0, 300)})`;
  return full ?? err;
}

import { DomainError } from "../errors.ts";
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

/** The target's disk failed under the copy (EIO writing or reading back the target LV). */
export class TargetDiskError extends DomainError {
  constructor(message: string) {
    super("TARGET_IO_ERROR", message);
  }
}

/** The stderr a failed remote command left, whatever layer wrapped it. */
const stderrOf = (err: unknown): string => {
  const e = err as { stderrTail?: unknown; stderr?: unknown; details?: { stderrTail?: unknown } };
  return String(e?.stderrTail ?? e?.details?.stderrTail ?? e?.stderr ?? "");
};

/**
 * A copy to the target failed: say why in the operator's words when it is the target's storage (a full thin pool,
 * or I/O errors from the target LV) instead of quoting a dd command line; otherwise `err` itself.
 */
export async function explainTargetFailure(
  ctx: Pick<PhaseContext, "job" | "target">,
  err: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  if (signal.aborted) return err;
  const full = await targetPoolFull(ctx, signal);
  if (full) return full;
  const { job } = ctx;
  const device = `/dev/${job.targetVg}/${job.targetLv}`;
  const ioError = stderrOf(err)
    .split("\n")
    .find((line) => line.includes(device) && /Input\/output error/.test(line));
  if (ioError)
    return new TargetDiskError(
      `the disk under ${job.targetVg}/${job.targetLv} on ${ctx.target.name} returned I/O errors (${ioError.trim()}): ` +
        "the VM keeps running on the source; repair the target's storage and retry (confirmed ranges are kept)",
    );
  return err;
}

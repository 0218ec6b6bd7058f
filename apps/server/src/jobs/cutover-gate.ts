import { openForWriteCommand } from "@blockferry/lvm";
import type { HostShell, PhaseContext } from "./context.ts";
import { findLv, SnapshotInvalidError, snapshotStatus } from "./lvm-ops.ts";
import { targetDevice } from "./phases/shared.ts";

/** Each gate check gets this long: a host that cannot answer an lvs in it is no host to cut over to. */
export const GATE_CHECK_TIMEOUT_MS = 20_000;

export type GateResult = { ok: true } | { ok: false; reason: string; snapshotInvalid?: SnapshotInvalidError };

/**
 * The last look before the VM is stopped: once it is, every failure costs outage. Both hosts must answer, the
 * target LV must be there and take a writer, and the source snapshot must still be valid (its change list is
 * the final delta). Any doubt refuses the cutover with the reason; the VM keeps running.
 */
export async function checkCutoverGate(ctx: PhaseContext): Promise<GateResult> {
  const { job, state } = ctx;
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(GATE_CHECK_TIMEOUT_MS)]);
  const ask = async <T>(shell: HostShell, what: string, check: () => Promise<T>): Promise<T> => {
    try {
      return await check();
    } catch (err) {
      ctx.signal.throwIfAborted(); // a cancel is not a refusal
      throw new GateRefusal(`${shell.name} did not answer ${what}: ${(err as Error).message}`);
    }
  };
  const opts = { signal, timeoutMs: GATE_CHECK_TIMEOUT_MS };
  try {
    await Promise.all([
      (async () => {
        const lv = await ask(ctx.target, "lvs", () => findLv(ctx.target, job.targetVg, job.targetLv, signal));
        if (!lv) throw new GateRefusal(`${job.targetVg}/${job.targetLv} is missing on ${ctx.target.name}`);
        await ask(ctx.target, "an open for write of the target LV", () =>
          ctx.target.run(openForWriteCommand(targetDevice(ctx)), opts),
        );
      })(),
      (async () => {
        const snap = state.snapshotLv;
        if (!snap) throw new GateRefusal("no source snapshot is recorded");
        if (state.sourceThin) {
          const lv = await ask(ctx.source, "lvs", () => findLv(ctx.source, job.sourceVg, snap, signal));
          if (!lv) throw new GateRefusal(`snapshot ${job.sourceVg}/${snap} is missing on ${ctx.source.name}`);
          return;
        }
        const status = await ask(ctx.source, "dmsetup status", () =>
          snapshotStatus(ctx.source, job.sourceVg, snap, signal),
        );
        if (status.state !== "valid") {
          const err = new SnapshotInvalidError(`${job.sourceVg}/${snap}`, status.state);
          throw new GateRefusal(err.message, err);
        }
      })(),
    ]);
  } catch (err) {
    if (!(err instanceof GateRefusal)) throw err;
    return { ok: false, reason: err.message, snapshotInvalid: err.snapshotInvalid };
  }
  return { ok: true };
}

class GateRefusal extends Error {
  constructor(
    message: string,
    readonly snapshotInvalid?: SnapshotInvalidError,
  ) {
    super(message);
  }
}

import { blockdevFlushCommand } from "@blockferry/lvm";
import { messageOf } from "../../errors.ts";
import type { PhaseContext, PhaseResult, PhaseTable } from "../context.ts";
import { checkCutoverGate, type GateResult } from "../cutover-gate.ts";
import { diskContexts } from "../disk-context.ts";
import { runSetPrechecks } from "../set-prechecks.ts";
import { refuseCutover } from "./cutover.ts";
import { waitCutoverForSet } from "./set-wait.ts";
import { options, type PhaseDeps, sourceDevice } from "./shared.ts";

/**
 * Full copies in flight at once per migration (one host pair): two streams keep a link busy while one waits on a
 * read-back hash, and more would only share the same disks' and link's bandwidth.
 */
export const MAX_STREAMS_PER_HOST_PAIR = 2;

/**
 * Runs `work` for each item, at most `limit` at a time. The first failure stops the others (through the abort
 * controller their contexts listen to) and is what this throws, once every one has settled.
 */
async function bounded<T, R>(
  items: readonly T[],
  limit: number,
  abort: AbortController,
  work: (item: T) => Promise<R>,
) {
  const results: R[] = [];
  let next = 0;
  let failure: { err: unknown } | null = null;
  const lane = async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await work(items[i] as T);
      } catch (err) {
        failure ??= { err };
        abort.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw (failure as { err: unknown }).err;
  return results;
}

/**
 * The phases of a VM's disk set, over the one-disk phases: each disk runs them in its own context (disk-context.ts).
 * Snapshots are taken back to back, full copies run at most MAX_STREAMS_PER_HOST_PAIR at a time, catch-up passes,
 * final deltas and verifies disk by disk; the VM is stopped and started once, for all of them, and started only
 * after every disk was verified. A disk whose snapshot overflowed sends the set back to the snapshot phase, where
 * only that disk starts over. A one-disk migration runs the one-disk phases unchanged.
 */
export function diskSetPhases(deps: PhaseDeps, single: PhaseTable): PhaseTable {
  const forSet =
    (phase: keyof PhaseTable, run: (ctx: PhaseContext, disks: PhaseContext[]) => Promise<PhaseResult>) =>
    (ctx: PhaseContext) => {
      const disks = diskContexts(ctx, deps);
      return disks.length === 1 ? single[phase](ctx) : run(ctx, disks);
    };
  /** Runs a one-disk phase for each disk in turn; a disk that answers otherwise than `expected` decides the next. */
  const inTurn = (phase: keyof PhaseTable, expected: string, after: string) =>
    forSet(phase, async (_ctx, disks) => {
      for (const d of disks) {
        const r = await single[phase](d);
        if (r.next !== expected) return r;
      }
      return { next: after as PhaseResult["next"] };
    });

  return {
    ...single,

    prechecks: forSet("prechecks", async (ctx, disks) => {
      const result = await runSetPrechecks(
        disks.map((d) => ({
          source: { vg: d.job.sourceVg, lv: d.job.sourceLv },
          target: { vg: d.job.targetVg, lv: d.job.targetLv, thinPool: d.job.targetThinPool },
          options: options(ctx),
          vm: ctx.job.vm,
        })),
        // On a retry the targets may be ours from the first attempt: reuse is then expected.
        { source: ctx.source, target: disks.every((d) => d.state.targetCreated) ? null : ctx.target },
        [],
        ctx.signal,
      );
      for (const c of result.checks) ctx.log(c.ok ? "info" : "error", `precheck ${c.name}: ${c.message}`);
      if (!result.ok) {
        const failed = result.checks.filter((c) => !c.ok).map((c) => c.message);
        throw Object.assign(new Error(`prechecks failed: ${failed.join("; ")}`), { code: "PRECHECK_FAILED" });
      }
      for (const [i, d] of disks.entries()) d.save({ sizeBytes: result.diskBytes[i] ?? 0 });
      return { next: "snapshot" };
    }),

    // Back to back: the disks' snapshots are as close in time as the commands allow.
    snapshot: forSet("snapshot", async (_ctx, disks) => {
      for (const d of disks) await single.snapshot(d);
      return { next: disks.every((d) => d.state.fullCopyDone) ? "catch_up" : "prepare_target" };
    }),

    prepare_target: inTurn("prepare_target", "full_copy", "full_copy"),

    full_copy: forSet("full_copy", async (ctx) => {
      const abort = new AbortController();
      const disks = diskContexts(ctx, deps, abort.signal).filter((d) => !d.state.fullCopyDone);
      const results = await bounded(disks, MAX_STREAMS_PER_HOST_PAIR, abort, (d) => single.full_copy(d));
      // An overflowed snapshot: that disk starts over from a new one (the others keep theirs and their copies).
      return results.some((r) => r.next === "snapshot") ? { next: "snapshot" } : { next: "catch_up" };
    }),

    catch_up: inTurn("catch_up", "wait_cutover", "wait_cutover"),

    wait_cutover: forSet("wait_cutover", (ctx, disks) => waitCutoverForSet(ctx, disks, deps)),

    // The VM stops once; every disk's source volume is flushed before any delta is read. Every disk passes the
    // cutover gate first (disk 0's in the one-disk stop_vm): a doubt about any of them keeps the VM running.
    stop_vm: forSet("stop_vm", async (ctx, disks) => {
      if (!ctx.state.vmStoppedAt) {
        const others = disks.slice(1);
        const gates = await Promise.all(others.map((d) => checkCutoverGate(d)));
        const refused = gates.findIndex((g) => !g.ok);
        if (refused !== -1)
          return refuseCutover(
            others[refused] as PhaseContext,
            deps,
            gates[refused] as Extract<GateResult, { ok: false }>,
          );
      }
      const r = await single.stop_vm(disks[0] as PhaseContext);
      if (r.next !== "final_delta") return r;
      for (const d of disks.slice(1)) await flush(d);
      return r;
    }),

    final_delta: forSet("final_delta", async (_ctx, disks) => {
      for (const d of disks) {
        const pass = finalPassOf(d);
        if (d.state.finalCopiedPass === pass) continue;
        await single.final_delta(d);
        d.save({ finalCopiedPass: pass });
      }
      return { next: "verify" };
    }),

    verify: forSet("verify", async (_ctx, disks) => {
      for (const d of disks) {
        const pass = finalPassOf(d);
        if (d.state.verifiedPass === pass) continue;
        await single.verify(d);
        d.save({ verifiedPass: pass });
      }
      return { next: "start_vm" };
    }),

    cleanup: forSet("cleanup", async (ctx, disks) => {
      // Disk 0's clean-up drops every snapshot of the job; the others add their source LV's migrated-away tag.
      for (const d of disks) {
        try {
          await single.cleanup(d);
        } catch (err) {
          if (d === disks[0]) throw err;
          ctx.log("warn", `clean-up of disk ${d.disk}: ${messageOf(err)}`);
        }
      }
      return { next: "done" };
    }),
  };
}

/** A disk's final-delta journal pass as the one-disk phase names it (a new one after each rollback). */
const finalPassOf = (d: PhaseContext) => (d.state.rollbacks ? `final-r${d.state.rollbacks}` : "final");

async function flush(d: PhaseContext) {
  await d.source.run(blockdevFlushCommand(sourceDevice(d)), { signal: d.signal });
}

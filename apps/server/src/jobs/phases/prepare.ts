import { bytesWithExact } from "@blockferry/contracts/units";
import type { PhaseContext, PhaseTable } from "../context.ts";
import {
  createClassicSnapshot,
  createTargetLv,
  createThinSnapshot,
  findLv,
  findVg,
  removeLvIfPresent,
  requireLv,
} from "../lvm-ops.ts";
import { defaultSnapshotBytes, runPrechecks } from "../prechecks.ts";
import { isSnapshotOfDisk, options, type PhaseDeps, snapshotName } from "./shared.ts";

export function preparePhases(deps: PhaseDeps): Pick<PhaseTable, "prechecks" | "snapshot" | "prepare_target"> {
  return {
    async prechecks(ctx) {
      const { job } = ctx;
      const result = await runPrechecks(
        {
          source: { vg: job.sourceVg, lv: job.sourceLv },
          target: { vg: job.targetVg, lv: job.targetLv, thinPool: job.targetThinPool },
          options: options(ctx),
          vm: job.vm,
        },
        // On a retry the target may be ours from the first attempt: reuse is then expected.
        { source: ctx.source, target: ctx.state.targetCreated ? null : ctx.target },
        [],
        ctx.signal,
      );
      for (const c of result.checks) ctx.log(c.ok ? "info" : "error", `precheck ${c.name}: ${c.message}`);
      if (!result.ok) {
        const failed = result.checks.filter((c) => !c.ok).map((c) => c.message);
        throw Object.assign(new Error(`prechecks failed: ${failed.join("; ")}`), { code: "PRECHECK_FAILED" });
      }
      ctx.save({ sizeBytes: result.estimate?.bytes ?? 0 });
      return { next: "snapshot" };
    },

    snapshot: (ctx) =>
      takeSnapshot(ctx, deps).then(() => ({ next: ctx.state.fullCopyDone ? "catch_up" : "prepare_target" })),

    async prepare_target(ctx) {
      const { job, state } = ctx;
      const size = state.sizeBytes ?? 0;
      const existing = await findLv(ctx.target, job.targetVg, job.targetLv, ctx.signal);
      if (existing) {
        const ours = existing.tags.includes(`bf-job-${job.id}`);
        if (!ours && !options(ctx).reuseTarget)
          throw new Error(`${job.targetVg}/${job.targetLv} appeared on ${ctx.target.name} and is not ours`);
        if (existing.sizeBytes !== size && !(ours && (await isOwnRoundedUp(ctx, deps, existing.sizeBytes, size))))
          throw new Error(
            `${job.targetVg}/${job.targetLv} has ${bytesWithExact(existing.sizeBytes)}, the source ${bytesWithExact(size)}`,
          );
        ctx.save({ targetCreated: ours, targetReadsZero: false });
      } else {
        // Recorded before the command runs: a crash in between still leaves a record to clean up from.
        deps.objects.record(job.id, job.targetHostId, "target_lv", job.targetVg, job.targetLv);
        await createTargetLv(
          ctx.target,
          { jobId: job.id, vg: job.targetVg, name: job.targetLv, sizeBytes: size, thinPool: job.targetThinPool },
          ctx.signal,
        );
        ctx.log("info", `created ${job.targetVg}/${job.targetLv} on ${ctx.target.name}`);
        // A new thin LV reads zeroes until written, so all-zero ranges need no write at all.
        ctx.save({ targetCreated: true, targetReadsZero: Boolean(job.targetThinPool) });
      }
      return { next: "full_copy" };
    },
  };
}

/**
 * An LV this job created (its objects know it) that lvcreate rounded up to the target VG's extent size: at least
 * the source size and less than one extent larger. A reused target must match the source size, as prechecks say.
 */
async function isOwnRoundedUp(ctx: PhaseContext, deps: PhaseDeps, lvBytes: number, size: number): Promise<boolean> {
  const { job } = ctx;
  const created = deps.objects
    .live(job.id)
    .some(
      (o) => o.kind === "target_lv" && o.hostId === job.targetHostId && o.vg === job.targetVg && o.lv === job.targetLv,
    );
  if (!created || lvBytes < size) return false;
  const vg = await findVg(ctx.target, job.targetVg, ctx.signal);
  return vg !== null && lvBytes - size < vg.extentSizeBytes;
}

/**
 * Creates the current generation's snapshot (or adopts it after a crash), and drops stale generations except
 * those in `keep` (a rotation's previous generation whose changes are not stored yet).
 * Classic snapshots are sized from the options or a quarter of the volume; thin ones share their pool.
 */
export async function takeSnapshot(
  ctx: PhaseContext,
  deps: PhaseDeps,
  keep: ReadonlyArray<string> = [],
): Promise<string> {
  const { job, state, signal } = ctx;
  const gen = state.snapshotGen ?? 1;
  const name = snapshotName(job.id, gen, ctx.disk);
  const origin = await requireLv(ctx.source, job.sourceVg, job.sourceLv, signal);
  const thin = origin.kind === "thin" || origin.segtype === "thin";
  // Keep the current generation (a rotation still reads its changes) and this one (adopted after a crash);
  // anything else, an overflowed snapshot included, goes first: its space may be what the new one needs.
  await dropStaleSnapshots(ctx, deps, [ctx.state.snapshotLv, name, ...keep]);
  if (!(await findLv(ctx.source, job.sourceVg, name, signal))) {
    deps.objects.record(job.id, job.sourceHostId, "snapshot", job.sourceVg, name);
    if (thin) {
      await createThinSnapshot(ctx.source, { jobId: job.id, vg: job.sourceVg, origin: job.sourceLv, name }, signal);
    } else {
      const vg = await findVg(ctx.source, job.sourceVg, signal);
      const size =
        options(ctx).snapshotSizeBytes ??
        defaultSnapshotBytes(origin.sizeBytes, vg?.freeBytes ?? 0, vg?.extentSizeBytes ?? 4 * 1024 * 1024);
      await createClassicSnapshot(
        ctx.source,
        {
          jobId: job.id,
          vg: job.sourceVg,
          origin: job.sourceLv,
          name,
          sizeBytes: size,
          chunkBytes: (options(ctx).snapshotChunkKiB ?? 64) * 1024,
        },
        signal,
      );
    }
    ctx.log("info", `snapshot ${job.sourceVg}/${name} taken`, { snapshot: name, thin });
  }
  const snap = await requireLv(ctx.source, job.sourceVg, name, signal);
  ctx.save({
    snapshotGen: gen,
    snapshotLv: name,
    snapshotThinId: snap.thinId,
    originThinId: origin.thinId,
    sourcePool: origin.pool,
    sourceThin: thin,
  });
  return name;
}

/** Removes every snapshot this job created except those named in `keep`. */
export async function dropStaleSnapshots(
  ctx: PhaseContext,
  deps: PhaseDeps,
  keep: ReadonlyArray<string | undefined>,
): Promise<void> {
  for (const o of deps.objects.live(ctx.job.id)) {
    // Another disk's snapshots are that disk's to drop.
    if (o.kind !== "snapshot" || keep.includes(o.lv) || !isSnapshotOfDisk(o.lv, ctx.job.id, ctx.disk)) continue;
    await removeLvIfPresent(ctx.source, o.vg, o.lv, ctx.signal);
    deps.objects.markRemoved(o.id);
    ctx.log("info", `dropped snapshot ${o.vg}/${o.lv}`);
  }
}

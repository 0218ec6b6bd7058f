import { type ExtentMap, readCowStore, readThinDelta } from "@blockferry/changes";
import {
  blockdevFlushCommand,
  dmDevicePath,
  dmName,
  dmsetupStatusCommand,
  dmsetupTableCommand,
  jobTag,
  type LvName,
  type LvRecord,
  lvchangeCommand,
  lvcreateLinearCommand,
  lvcreateSnapshotCommand,
  lvcreateThinCommand,
  lvcreateThinSnapshotCommand,
  lvDevicePath,
  lvextendCommand,
  lvremoveCommand,
  lvsCommand,
  migratedAwayTag,
  parseLvsReport,
  parseSnapshotStatus,
  parseSnapshotTable,
  parseVgsReport,
  type SnapshotStatus,
  thinDeltaCommand,
  thinPoolMetadataSnapCommand,
  type VgName,
  type VgRecord,
  validateLvName,
  validateVgName,
  vgsCommand,
} from "@blockferry/lvm";
import type { HostShell } from "./context.ts";
import { type ReleaseOptions, waitForDeviceRelease } from "./device-release.ts";

/**
 * LVM operations on one host, built only from packages/lvm templates. Every one takes the job's abort signal, so
 * a cancel never waits for a command blocked on a VG lock or a hung device. Commands that change LVM metadata or
 * devices are stopped with SIGTERM alone (`lvmChange`): LVM then gives up a lock wait, or finishes the change it
 * is in the middle of (it defers signals there); a SIGKILL would leave half-made LVs behind.
 */
const lvmChange = (signal?: AbortSignal) => ({ signal, stop: "term" as const });

export const vgName = (v: string): VgName => validateVgName(v);
export const lvName = (v: string): LvName => validateLvName(v);
export const devicePath = (vg: string, lv: string) => lvDevicePath(vgName(vg), lvName(lv));

export async function findLv(shell: HostShell, vg: string, lv: string, signal?: AbortSignal): Promise<LvRecord | null> {
  const all = parseLvsReport(await shell.run(lvsCommand({ vg: vgName(vg) }), { signal }));
  return all.find((r) => r.name === lv) ?? null;
}

export async function requireLv(shell: HostShell, vg: string, lv: string, signal?: AbortSignal): Promise<LvRecord> {
  const rec = await findLv(shell, vg, lv, signal);
  if (!rec) throw new Error(`${vg}/${lv} does not exist on ${shell.name}`);
  return rec;
}

export async function findVg(shell: HostShell, vg: string, signal?: AbortSignal): Promise<VgRecord | null> {
  try {
    return parseVgsReport(await shell.run(vgsCommand(vgName(vg)), { signal }))[0] ?? null;
  } catch (err) {
    if (/not found|No such|does not exist/i.test(String((err as Error).message))) return null;
    throw err;
  }
}

export const tagsFor = (jobId: number) => [jobTag(jobId)];

export async function createClassicSnapshot(
  shell: HostShell,
  o: { jobId: number; vg: string; origin: string; name: string; sizeBytes: number; chunkBytes: number },
  signal?: AbortSignal,
): Promise<void> {
  await shell.run(
    lvcreateSnapshotCommand({
      vg: vgName(o.vg),
      origin: lvName(o.origin),
      name: lvName(o.name),
      sizeBytes: o.sizeBytes,
      chunkSizeBytes: o.chunkBytes,
      tags: tagsFor(o.jobId),
    }),
    lvmChange(signal),
  );
}

/** Thin snapshots skip activation by default; we read them, so activate explicitly. */
export async function createThinSnapshot(
  shell: HostShell,
  o: { jobId: number; vg: string; origin: string; name: string },
  signal?: AbortSignal,
): Promise<void> {
  const vg = vgName(o.vg);
  const name = lvName(o.name);
  await shell.run(
    lvcreateThinSnapshotCommand({ vg, origin: lvName(o.origin), name, tags: tagsFor(o.jobId) }),
    lvmChange(signal),
  );
  await shell.run(lvchangeCommand({ vg, lv: name, activate: true, ignoreActivationSkip: true }), lvmChange(signal));
}

export async function createTargetLv(
  shell: HostShell,
  o: { jobId: number; vg: string; name: string; sizeBytes: number; thinPool: string | null },
  signal?: AbortSignal,
): Promise<void> {
  const vg = vgName(o.vg);
  const name = lvName(o.name);
  await shell.run(
    o.thinPool
      ? lvcreateThinCommand({
          vg,
          pool: lvName(o.thinPool),
          name,
          virtualSizeBytes: o.sizeBytes,
          tags: tagsFor(o.jobId),
        })
      : lvcreateLinearCommand({ vg, name, sizeBytes: o.sizeBytes, tags: tagsFor(o.jobId) }),
    lvmChange(signal),
  );
}

const LV_IN_USE = /in use|open count|busy/i;
const REMOVE_ATTEMPTS = 3;

/**
 * Removes an LV we created; gone already is fine (clean-up must be re-runnable). lvremove refuses an LV that is
 * open: then we wait (bounded) for every process to let go of it, and try again.
 */
export async function removeLvIfPresent(
  shell: HostShell,
  vg: string,
  lv: string,
  signal?: AbortSignal,
  release: ReleaseOptions = {},
): Promise<boolean> {
  const rec = await findLv(shell, vg, lv, signal);
  if (!rec) return false;
  if (!rec.tags.includes("blockferry")) throw new Error(`refusing to remove ${vg}/${lv}: not created by Blockferry`);
  for (let attempt = 1; ; attempt++) {
    try {
      await shell.run(lvremoveCommand({ vg: vgName(vg), lv: lvName(lv) }), lvmChange(signal));
      return true;
    } catch (err) {
      if (attempt >= REMOVE_ATTEMPTS || !LV_IN_USE.test(String((err as Error).message))) throw err;
    }
    await waitForDeviceRelease(shell, vg, lv, { ...release, signal });
  }
}

/** Marks the source LV a job moved away (re-runnable: LVM keeps a tag once however often it is added). */
export async function tagMigratedAway(
  shell: HostShell,
  o: { jobId: number; vg: string; lv: string },
  signal?: AbortSignal,
): Promise<void> {
  await shell.run(
    lvchangeCommand({ vg: vgName(o.vg), lv: lvName(o.lv), addTags: [migratedAwayTag(o.jobId)] }),
    lvmChange(signal),
  );
}

export async function snapshotStatus(
  shell: HostShell,
  vg: string,
  snap: string,
  signal?: AbortSignal,
): Promise<SnapshotStatus> {
  const out = await shell.run(dmsetupStatusCommand(dmName(vgName(vg), lvName(snap))), { signal });
  return parseSnapshotStatus(out.trim());
}

export async function extendLv(
  shell: HostShell,
  vg: string,
  lv: string,
  sizeBytes: number,
  signal?: AbortSignal,
): Promise<void> {
  await shell.run(lvextendCommand({ vg: vgName(vg), lv: lvName(lv), sizeBytes }), lvmChange(signal));
}

/**
 * The origin chunks written since a classic snapshot was taken, from its COW metadata (read over SFTP,
 * metadata areas only). With the origin quiet, the count must match the kernel's own figure.
 */
export async function classicSnapshotChanges(
  shell: HostShell,
  o: { vg: string; snap: string; originBytes: number; originQuiet: boolean },
  signal?: AbortSignal,
): Promise<{ chunkBytes: number; extents: ExtentMap }> {
  const status = await snapshotStatus(shell, o.vg, o.snap, signal);
  if (status.state !== "valid") throw new SnapshotInvalidError(`${o.vg}/${o.snap}`, status.state);
  // The kernel's own word on the chunk size: a header damaged into another size is then caught.
  const table = parseSnapshotTable(
    (await shell.run(dmsetupTableCommand(dmName(vgName(o.vg), lvName(o.snap))), { signal })).trim(),
  );
  const cowPath = dmDevicePath(vgName(o.vg), lvName(o.snap), "-cow");
  // The kernel writes the COW store below the page cache: drop any cached pages of it before reading.
  await shell.run(blockdevFlushCommand(cowPath), { signal });
  const source = await shell.openByteSource(cowPath, { signal });
  try {
    const chunkSectors = table.chunkSectors;
    const store = await readCowStore(source, {
      chunkBytes: chunkSectors * 512,
      originBytes: o.originBytes,
      expectExceptions: o.originQuiet ? (status.allocatedSectors - status.metadataSectors) / chunkSectors : undefined,
    });
    return { chunkBytes: store.chunkBytes, extents: store.extents };
  } finally {
    await source.close();
  }
}

/** Blocks that differ between two thin devices of one pool, under a reserved metadata snapshot. */
export async function thinChanges(
  shell: HostShell,
  o: { vg: string; pool: string; fromThinId: number; toThinId: number },
  signal?: AbortSignal,
): Promise<{ chunkBytes: number; data: ExtentMap; discard: ExtentMap }> {
  const vg = vgName(o.vg);
  const pool = lvName(o.pool);
  // A reservation left by a crashed run blocks a new one: release first, ignoring "not held".
  await shell.run(thinPoolMetadataSnapCommand(vg, pool, "release"), { signal }).catch(() => undefined);
  let done = false;
  try {
    // Inside the try: a reserve interrupted by a cancel may still have happened.
    await shell.run(thinPoolMetadataSnapCommand(vg, pool, "reserve"), { signal });
    const out = await shell.run(thinDeltaCommand({ vg, pool, snap1: o.fromThinId, snap2: o.toThinId }), { signal });
    const delta = await readThinDelta(out);
    done = true;
    return { chunkBytes: delta.blockBytes, data: delta.data, discard: delta.discard };
  } finally {
    // Not under the signal: a reservation left held blocks the pool's next one after a cancel. After a failure it
    // may not be held at all ("not held" then is no news).
    const release = shell.run(thinPoolMetadataSnapCommand(vg, pool, "release"), { timeoutMs: 30_000 });
    if (done) await release;
    else await release.catch(() => undefined);
  }
}

export class SnapshotInvalidError extends Error {
  readonly code = "SNAPSHOT_INVALID";
  constructor(snapshot: string, state: string) {
    super(`snapshot ${snapshot} is ${state} (it overflowed or was dropped); its change list cannot be trusted`);
  }
}

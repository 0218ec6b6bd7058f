import type { ExtentMap } from "@blockferry/changes";
import type { OutagePrediction } from "@blockferry/contracts";
import type { SnapshotStatus } from "@blockferry/lvm";
import { messageOf } from "../errors.ts";
import { toMapCells } from "./chunk-map.ts";
import type { PhaseContext } from "./context.ts";
import { classicSnapshotChanges, thinChanges } from "./lvm-ops.ts";
import {
  type OutageHistory,
  outageAfterOnePass,
  type PredictionInput,
  predictionMoved,
  predictOutage,
  type Reading,
  writeRate,
} from "./outage-prediction.ts";
import { mapChunkBytes, type PhaseDeps, storedThin } from "./phases/shared.ts";

/** How often the snapshot's changes are read while the VM runs (PhaseDeps.changeReadMs overrides it). */
export const CHANGE_READ_MS = 5000;

export interface LiveReading {
  at: number;
  snapshot: string;
  changedBytes: number;
  runs: number;
  prediction: OutagePrediction | null;
  /** The outage if one more catch-up pass ran first (the cutover policy's convergence test). */
  afterOnePass: number | null;
}

export interface ChangeReader {
  /** A classic snapshot's status as watchSnapshot read it: an unchanged fill spares a read of the COW store. */
  noteStatus(snapshot: string, status: SnapshotStatus): void;
  /** The latest reading this reader took, if any. */
  latest(): LiveReading | null;
  /** Reads now (waiting for a reading in flight first). */
  readNow(): Promise<LiveReading | null>;
  /** Stops the timer and waits for a reading in flight (a thin one holds the pool's metadata snapshot). */
  stop(): Promise<void>;
}

type Found = { snapshot: string; chunkBytes: number; extents: ExtentMap; readMs: number; allocated: number | null };

/**
 * Reads what the current snapshot holds every few seconds while the job copies or waits: changed bytes and runs,
 * the write rate, the live "changed" cells of the chunk map and the outage prediction. Each reading replaces the
 * view in the job's phase state; a `job.prediction` event is stored only when the prediction moved (the
 * dashboard refetches the job and its chunk map on it). A failed reading is logged and the next one tried.
 */
export function startChangeReader(
  ctx: PhaseContext,
  deps: PhaseDeps,
  o: { repeat?: boolean; fallbackRate?: number | null } = {},
): ChangeReader {
  const stopped = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stopped.signal]);
  const readings: Array<Reading & { snapshot: string }> = [];
  let history: OutageHistory | null | undefined;
  let status: { snapshot: string; status: SnapshotStatus } | null = null;
  let last: (LiveReading & { found: Found }) | null = null;
  let stored: OutagePrediction | undefined;
  let inFlight: Promise<LiveReading | null> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastError = "";

  const readChanges = async (): Promise<Found | null> => {
    const { state, job } = ctx;
    const snapshot = state.snapshotLv;
    if (!snapshot) return null;
    const noted = status?.snapshot === snapshot ? status.status : null;
    const allocated = noted?.state === "valid" ? noted.allocatedSectors : null;
    // Nothing new in the COW store since the last reading: the same changes, without another SSH round.
    if (last && last.found.snapshot === snapshot && allocated !== null && allocated === last.found.allocated)
      return last.found;
    const began = Date.now();
    const found = state.sourceThin
      ? await thinChanges(
          ctx.source,
          {
            vg: job.sourceVg,
            pool: storedThin(state).pool,
            fromThinId: storedThin(state).snapshotThinId,
            toThinId: storedThin(state).originThinId,
          },
          signal,
        ).then((d) => ({ chunkBytes: d.chunkBytes, extents: d.data.union(d.discard) }))
      : await classicSnapshotChanges(
          ctx.source,
          { vg: job.sourceVg, snap: snapshot, originBytes: state.sizeBytes ?? 0, originQuiet: false },
          signal,
        );
    return { snapshot, ...found, readMs: Date.now() - began, allocated };
  };

  const read = async (): Promise<LiveReading | null> => {
    const found = await readChanges();
    if (!found || signal.aborted) return null;
    const at = Date.now();
    const changedBytes = found.extents.byteCount(found.chunkBytes);
    // A rotation starts a new snapshot: its growth says nothing of the old one's.
    while (readings.length && readings[0]?.snapshot !== found.snapshot) readings.shift();
    readings.push({ at, changedBytes, snapshot: found.snapshot });
    while (readings.length > 50) readings.shift();
    if (history === undefined) history = deps.outageHistory?.(ctx.job) ?? null;
    const input: PredictionInput = {
      changedBytes,
      changedRuns: found.extents.runCount,
      // Over the last three intervals: a writer that stopped shows as one within seconds.
      writeBytesPerSecond: writeRate(readings, 3 * (deps.changeReadMs ?? CHANGE_READ_MS)) ?? o.fallbackRate ?? null,
      readChangesSeconds: found.readMs / 1000,
      passes: ctx.state.passTimings ?? [],
      history,
      bandwidthLimit: ctx.job.options.bandwidthLimitBytesPerSecond ?? null,
      now: at,
    };
    const prediction = predictOutage(input);
    const reading = {
      at,
      snapshot: found.snapshot,
      changedBytes,
      runs: found.extents.runCount,
      prediction,
      afterOnePass: outageAfterOnePass(input),
      found,
    };
    last = reading;
    // The snapshot may have been rotated while this read: its cells are then no longer news.
    if (ctx.state.snapshotLv !== found.snapshot) return reading;
    const cellBytes = mapChunkBytes(ctx.state.sizeBytes ?? 0);
    ctx.save({
      liveChangedCells: toMapCells(found.extents, found.chunkBytes, cellBytes),
      ...(prediction && { prediction }),
    });
    if (prediction && predictionMoved(stored, prediction)) {
      stored = prediction;
      ctx.event("job.prediction", { prediction });
    }
    return reading;
  };

  const tick = (): Promise<LiveReading | null> => {
    if (inFlight) return inFlight;
    inFlight = read()
      .catch((err) => {
        const message = messageOf(err);
        // Said once per kind of failure: a host that stays away would otherwise log every few seconds.
        if (!signal.aborted && message !== lastError)
          ctx.log("warn", `reading the snapshot's changes failed: ${message}`);
        lastError = message;
        return null;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };

  const loop = () => {
    void tick().then(() => {
      if (!signal.aborted) timer = setTimeout(loop, deps.changeReadMs ?? CHANGE_READ_MS);
    });
  };
  if (o.repeat !== false) loop();

  return {
    noteStatus(snapshot, s) {
      status = { snapshot, status: s };
    },
    latest: () => last,
    async readNow() {
      await inFlight;
      return tick();
    },
    async stop() {
      clearTimeout(timer);
      stopped.abort();
      await inFlight;
      clearTimeout(timer);
    },
  };
}

// Which way a job's copies went, for its view and its report: each copy pass logs "<pass>: data path direct|relay
// (reason)" with `{dataPath}` (phases/shared.ts) and stores the same in phaseState.dataPaths.
import type { DataPath, DataPathView, PassDataPath, StoredEvent } from "@blockferry/contracts";

/** Passes kept in phaseState: the latest ones (an automatic cutover may add many catch-up passes). */
const KEPT = 16;

export const withPassDataPath = (kept: readonly PassDataPath[] | undefined, pass: PassDataPath): PassDataPath[] => [
  ...(kept ?? []).filter((p) => p.pass !== pass.pass || p.disk !== pass.disk).slice(-(KEPT - 1)),
  pass,
];

export function dataPathView(requested: DataPath | undefined, passes: readonly PassDataPath[]): DataPathView {
  const last = passes[passes.length - 1];
  // Unset: auto, as the copies decide (phases/shared.ts).
  return { requested: requested ?? "auto", ran: last?.ran ?? null, reason: last?.reason ?? null, passes: [...passes] };
}

/** `[disk N (vg/lv): ]PASS: data path direct|relay[ (reason)]`: a set's disks log with their prefix (phases/context). */
const LINE = /^(?:disk (\d{1,2}) \([^)]*\): )?(.+?): data path (?:direct|relay)(?: \((.*)\))?$/s;

/** The passes' data paths from the job's stored events (oldest first); a re-run pass counts as it ran last. */
export function dataPathsFromEvents(events: readonly StoredEvent[]): PassDataPath[] {
  let passes: PassDataPath[] = [];
  for (const e of events) {
    if (e.type !== "job.log" || !e.data.dataPath) continue;
    const m = LINE.exec(e.data.message);
    if (!m) continue;
    passes = withPassDataPath(passes, {
      pass: m[2] as string,
      ...(m[1] !== undefined && m[1] !== "0" && { disk: Number(m[1]) }),
      ran: e.data.dataPath,
      ...(m[3] !== undefined && { reason: m[3] }),
    });
  }
  return passes;
}

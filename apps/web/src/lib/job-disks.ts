// A migration's disks as the job pages show them: what it moves in a few words, each disk's figures with the live
// progress of its copy, and the job's totals. Pure; tested in apps/web/test/job-disks.test.ts.
import type { DiskState, Migration, ProgressMessage } from "@blockferry/contracts";
import { parsePassName } from "@blockferry/contracts/vocabulary";
import { passLabel } from "./job-facts.ts";

/** What a migration moves: "vg0/web" for one disk; for a set, its VM ("VM web1 · 2 disks") or its first LV and more. */
export function movedWords(m: Pick<Migration, "source" | "disks" | "vm">): string {
  const first = `${m.source.vg}/${m.source.lv}`;
  const n = m.disks.length;
  if (n <= 1) return first;
  if (m.vm.controller === "libvirt") return `VM ${m.vm.domain} · ${n} disks`;
  return `${first} + ${n - 1} more ${n === 2 ? "disk" : "disks"}`;
}

export const DISK_STATE_WORDS: Record<DiskState, string> = {
  pending: "waiting",
  copying: "copying",
  in_sync: "in sync",
  final_copied: "final delta copied",
  verified: "verified",
};

export interface DiskFigures {
  index: number;
  bytesDone: number;
  bytesTotal: number;
  /** Streamed, awaiting the target's read-back (only while the copy moves). */
  bytesStreamed: number;
  /**
   * The pass the live figures count, in words (passWords); null for stored figures, and once the disk's copies are
   * over (final delta copied, verified).
   */
  pass: string | null;
}

/**
 * A live progress message's pass in words that read inside a line, as the report names its passes: "full copy",
 * "full copy again (snapshot 2)", "catch-up 2", "final delta", "final delta 2 (after a rollback)", and the final
 * delta of the whole volume ("final delta, whole volume"). Null without a pass (a server older than the field)
 * or for a name the journal does not make.
 */
export function passWords(pass: string | undefined): string | null {
  const parsed = pass === undefined ? null : parsePassName(pass);
  if (!parsed) return null;
  const label = passLabel(parsed);
  const words = label.charAt(0).toLowerCase() + label.slice(1);
  return parsed.whole ? `${words}, whole volume` : words;
}

/**
 * Each disk's copy figures: its newest progress message while the job copies, its stored counters otherwise (and
 * for a disk no message has spoken of yet). A verified disk is whole on the target: its stored counters are its
 * last pass's (the final delta, often a few MiB), so it counts as its whole size copied.
 */
export function diskFigures(
  disks: Migration["disks"],
  live: Readonly<Record<number, ProgressMessage>>,
  moving: boolean,
): DiskFigures[] {
  return disks.map((d) => {
    if (d.state === "verified" && d.sizeBytes !== null)
      return { index: d.index, bytesDone: d.sizeBytes, bytesTotal: d.sizeBytes, bytesStreamed: 0, pass: null };
    const p = moving ? live[d.index] : undefined;
    return {
      index: d.index,
      bytesDone: p?.bytesDone ?? d.bytesDone,
      bytesTotal: p?.bytesTotal || d.bytesTotal,
      bytesStreamed: p?.bytesStreamed ?? 0,
      pass: d.state === "final_copied" || d.state === "verified" ? null : passWords(p?.pass),
    };
  });
}

/** The job's figures: its disks' summed. */
export function totalFigures(figures: readonly DiskFigures[]): Omit<DiskFigures, "index" | "pass"> {
  return figures.reduce(
    (t, f) => ({
      bytesDone: t.bytesDone + f.bytesDone,
      bytesTotal: t.bytesTotal + f.bytesTotal,
      bytesStreamed: t.bytesStreamed + f.bytesStreamed,
    }),
    { bytesDone: 0, bytesTotal: 0, bytesStreamed: 0 },
  );
}

/** The copy's ETA for a set: when its slowest disk is done (null when none says). */
export function setEtaSeconds(live: Readonly<Record<number, ProgressMessage>>, phase: string): number | null {
  const etas = Object.values(live)
    .filter((p) => p.phase === phase && p.etaSeconds !== null)
    .map((p) => p.etaSeconds as number);
  return etas.length ? Math.max(...etas) : null;
}

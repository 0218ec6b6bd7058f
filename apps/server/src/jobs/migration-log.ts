import type { Migration, StoredEvent } from "@blockferry/contracts";
import { humanBytes } from "@blockferry/contracts/units";
import { JOB_STATE_LABELS, PHASE_LABELS } from "@blockferry/contracts/vocabulary";

/** A migration's endpoints and VM control in one line, from the (already masked) view of it. */
function describe(m: Migration, hostName: (id: number) => string): string {
  const vm =
    m.vm.controller === "commands"
      ? `commands (stop: ${m.vm.stopSource}; start on target: ${m.vm.startTarget})`
      : m.vm.controller === "libvirt"
        ? `libvirt domain ${m.vm.domain}`
        : "not controlled";
  const from = `${hostName(m.source.hostId)} ${m.source.vg}/${m.source.lv}`;
  return `${from} -> ${hostName(m.target.hostId)} ${m.target.vg}/${m.target.lv}; VM ${vm}; ${m.cutover} cutover`;
}

/** How the reader sees the migration: its masked view, and hosts by name. */
export interface LogView {
  mask(m: Migration): Migration;
  hostName(id: number): string;
}

/** One event as a log line's level and text; null for events the log leaves out. */
function lineOf(e: StoredEvent, view: LogView): [level: string, text: string] | null {
  switch (e.type) {
    case "job.created":
      return ["info", `migration created: ${describe(view.mask(e.data.migration), view.hostName)}`];
    case "job.state":
      return e.data.retry !== undefined
        ? ["info", `retried: attempt ${e.data.retry + 1} queued`]
        : ["info", `state: ${JOB_STATE_LABELS[e.data.state]}`];
    case "job.phase":
      return ["info", `phase: ${PHASE_LABELS[e.data.phase]}`];
    case "job.log":
      return [e.data.level, e.data.message];
    case "job.snapshot":
      return ["info", `snapshot ${e.data.snapshot} ${e.data.fillPercent.toFixed(1)}% full`];
    case "job.verified":
      return ["info", `verified ${e.data.ranges} ranges${e.data.full ? " (whole volume)" : ""}`];
    case "job.outage":
      return [
        "info",
        `outage ${e.data.outageMs} ms${e.data.predictedOutageSeconds === undefined ? "" : ` (predicted ${e.data.predictedOutageSeconds} s)`}`,
      ];
    case "job.prediction":
      return [
        "info",
        `predicted outage ${e.data.prediction.outageSeconds} s (${humanBytes(e.data.prediction.changedBytes)} changed in ` +
          `${e.data.prediction.changedRuns} runs): ${e.data.prediction.basis}`,
      ];
    case "job.cutover_refused":
      return ["warn", `cutover refused: ${e.data.reason}`];
    case "job.rolled_back":
      return ["warn", `rolled back after an outage of ${e.data.outageMs} ms: ${e.data.reason}`];
    default:
      return null;
  }
}

/**
 * The job's stored events as a plain-text log, one line each: time, level, phase, text. `view.mask` gives the
 * migration as the reader may see it (a viewer never gets the operator's VM commands, even by their length).
 */
export function migrationLogText(jobId: number, events: Iterable<StoredEvent>, view: LogView): string {
  const lines = [`# Blockferry migration ${jobId}: event log (times in UTC)`];
  let phase = "";
  for (const e of events) {
    if ("phase" in e.data && typeof e.data.phase === "string") phase = e.data.phase;
    const line = lineOf(e, view);
    if (!line) continue;
    const where = phase ? (PHASE_LABELS[phase as keyof typeof PHASE_LABELS] ?? phase) : "-";
    // One line per event: a message with a newline (a remote command's stderr) stays on its line.
    lines.push(`${e.at} ${line[0].padEnd(5)} [${where}] ${line[1].replace(/\r?\n/g, " | ")}`);
  }
  return `${lines.join("\n")}\n`;
}

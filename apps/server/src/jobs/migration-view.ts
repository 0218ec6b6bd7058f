import type { Migration, PhaseState } from "@blockferry/contracts";
import type { JobDiskRow } from "../db/repositories/job-disks.ts";
import type { JobRow } from "../db/repositories/jobs.ts";
import { cancelRefusal } from "./cancel-rule.ts";
import { dataPathView } from "./data-path-view.ts";
import { diskViews } from "./migration-disks.ts";
import { vmOutageOf } from "./vm-outage.ts";

/** The volume size the job measured (prechecks store 0 when they had no estimate: not known either). */
const sizeOf = (state: PhaseState): number | null =>
  typeof state.sizeBytes === "number" && state.sizeBytes > 0 ? state.sizeBytes : null;

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Every disk's passes, disk 0's (the job's phase state) first, each later disk's marked with its index. */
const dataPathsOfDisks = (j: JobRow, diskRows: readonly JobDiskRow[]) => [
  ...(j.phaseState.dataPaths ?? []),
  ...diskRows
    .filter((d) => d.index > 0)
    .flatMap((d) => (d.phaseState.dataPaths ?? []).map((p) => ({ ...p, disk: d.index }))),
];

/** The API view of a job row and its disks' rows (without them: disk 0 alone, from the job row). */
export const toMigration = (j: JobRow, diskRows: readonly JobDiskRow[] = []): Migration => {
  const disks = diskViews(j, diskRows);
  const total = (key: "bytesTotal" | "bytesDone" | "rangesTotal" | "rangesDone") => sum(disks.map((d) => d[key]));
  const sizes = disks.map((d) => d.sizeBytes);
  return {
    id: j.id,
    state: j.state,
    phase: j.phase,
    source: { hostId: j.sourceHostId, vg: j.sourceVg, lv: j.sourceLv },
    target: { hostId: j.targetHostId, vg: j.targetVg, lv: j.targetLv, thinPool: j.targetThinPool },
    disks,
    vm: j.vm,
    cutover: j.cutover,
    cutoverPolicy: j.cutoverPolicy ?? { mode: j.cutover },
    cutoverWait: j.phaseState.cutoverWait ?? null,
    prediction: j.phaseState.prediction ?? null,
    predictedOutageSeconds: j.phaseState.predictedOutageSeconds ?? null,
    options: j.options,
    attempt: j.attempt,
    sizeBytes:
      disks.length === 1 ? sizeOf(j.phaseState) : sizes.every((b) => b !== null) ? sum(sizes as number[]) : null,
    bytesTotal: total("bytesTotal"),
    bytesDone: total("bytesDone"),
    rangesTotal: total("rangesTotal"),
    rangesDone: total("rangesDone"),
    outageMs: j.outageMs,
    vmOutage: vmOutageOf(j),
    cancellable: cancelRefusal(j) === null,
    error: j.error,
    createdBy: j.createdBy,
    createdAt: j.createdAt,
    updatedAt: j.updatedAt,
    startedAt: j.startedAt,
    finishedAt: j.finishedAt,
    sourceDecommissionedAt: j.sourceDecommissionedAt,
    sourceDecommissionedBy: j.sourceDecommissionedBy,
    dataPath: dataPathView(j.options.dataPath, dataPathsOfDisks(j, diskRows)),
  };
};

const hidden = (command: string) => `(hidden: ${command.length} characters)`;

/**
 * The view for events, which every websocket client receives: an operator's VM commands may hold credentials
 * (`curl -H 'Authorization: Bearer ...'`), so they are replaced by their length.
 */
export function toMigrationEvent(j: JobRow, diskRows: readonly JobDiskRow[] = []): Migration {
  const m = toMigration(j, diskRows);
  if (m.vm.controller !== "commands") return m;
  const { stopSource, startSource, startTarget, status } = m.vm;
  return {
    ...m,
    vm: {
      ...m.vm,
      stopSource: hidden(stopSource),
      startTarget: hidden(startTarget),
      ...(startSource !== undefined && { startSource: hidden(startSource) }),
      ...(status !== undefined && { status: hidden(status) }),
    },
  };
}

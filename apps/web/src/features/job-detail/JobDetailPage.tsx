import type { Migration } from "@blockferry/contracts";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, useSyncExternalStore } from "react";
import { Bytes, HumanText, Rate } from "../../components/Figures.tsx";
import { NotFound } from "../../components/NotFound.tsx";
import { ErrorState, Loading } from "../../components/QueryState.tsx";
import { ProgressBar, StateBadge } from "../../components/StateBadge.tsx";
import { ApiError, errorText } from "../../lib/api.ts";
import { cutoverAhead, newerPrediction } from "../../lib/cutover-policy.ts";
import {
  exactBytes,
  formatBytes,
  formatDuration,
  formatMs,
  formatTime,
  percent,
  phaseLabel,
} from "../../lib/format.ts";
import { diskFigures, movedWords, setEtaSeconds, totalFigures } from "../../lib/job-disks.ts";
import { isTerminal } from "../../lib/job-vocabulary.ts";
import { jobTitle, titled, usePageTitle } from "../../lib/page-title.ts";
import { Link } from "../../lib/router.tsx";
import { useHosts } from "../hosts/api.ts";
import { migrationKeys, useChunkMap, useMigration, useMigrationReport } from "../jobs/api.ts";
import { useCan } from "../session/session-store.ts";
import { ChunkMapCanvas } from "./ChunkMapCanvas.tsx";
import { CutoverForecast } from "./CutoverForecast.tsx";
import { CutoverPolicyPanel, POLICY_PANEL_ID } from "./CutoverPolicyPanel.tsx";
import { CutoverWaitBanner } from "./CutoverWaitBanner.tsx";
import { DataPathLine } from "./DataPathLine.tsx";
import { DiskSwitcher, DisksPanel } from "./DisksPanel.tsx";
import { FinishedFacts } from "./FinishedFacts.tsx";
import { JobActions } from "./JobActions.tsx";
import { JobStreamStore } from "./job-stream-store.ts";
import { LogView } from "./LogView.tsx";
import { OutageBanner } from "./OutageBanner.tsx";
import { PhaseTimeline } from "./PhaseTimeline.tsx";
import { SnapshotGauge } from "./SnapshotGauge.tsx";
import { ThroughputChart } from "./ThroughputChart.tsx";

/** The header's description of the plan, in words: "VM stopped and started by libvirt · manual cutover". */
function planWords(m: Migration): string {
  const vm =
    m.vm.controller === "libvirt"
      ? m.vm.startTarget === false
        ? `VM ${m.vm.domain} stopped by libvirt, left shut off on the target`
        : `VM ${m.vm.domain} stopped and started by libvirt`
      : m.vm.controller === "commands"
        ? "VM stopped and started by your commands"
        : "VM not controlled by Blockferry";
  const cutover = m.cutover === "auto" ? "automatic cutover" : "manual cutover";
  const retries = m.attempt === 1 ? " · retried once" : m.attempt > 1 ? ` · retried ${m.attempt} times` : "";
  return `${vm} · ${cutover}${retries}`;
}

/** What the copy figures count: the pass in progress, or the last one once copying is over. */
function copiedLabel(phase: Migration["phase"], bytesDone: number): string {
  if (phase === "full_copy" || phase === "catch_up" || phase === "final_delta") return `Copied (${phaseLabel(phase)})`;
  return bytesDone > 0 ? "Copied (last pass)" : "Copied";
}

/** A job that has ended for good: no live connection worth showing, nothing more will happen to it. */
const ENDED = new Set<Migration["state"]>(["succeeded", "cancelled"]);

function useJobStream(jobId: number) {
  const [store] = useState(() => new JobStreamStore(jobId));
  useEffect(() => {
    store.start();
    return () => store.stop();
  }, [store]);
  return { store, live: useSyncExternalStore(store.subscribe, store.getSnapshot) };
}

export function JobDetailPage({ id }: { id: number }) {
  const job = useMigration(id);
  const report = useMigrationReport(id);
  const { store, live } = useJobStream(id);
  const qc = useQueryClient();
  const hosts = useHosts();
  const canAct = useCan("operator");
  const [policyOpen, setPolicyOpen] = useState(false);
  // The disk whose chunk map shows (a disk set's; a one-disk job has disk 0 only).
  const [mapDisk, setMapDisk] = useState(0);
  const phase = live.phase ?? job.data?.phase;
  // The map needs the volume size: from the job row, or from the first progress message of a running copy.
  const chunkMap = useChunkMap(
    id,
    Math.max(job.data?.bytesTotal ?? 0, live.progress?.bytesTotal ?? 0, job.data?.disks[mapDisk]?.sizeBytes ?? 0) > 0,
    mapDisk,
  );

  // A stored event means the job row changed: refetch it (and the chunk map when the phase moved on).
  useEffect(() => {
    if (live.jobVersion === 0) return;
    void qc.invalidateQueries({ queryKey: migrationKeys.detail(id), exact: true });
    void qc.invalidateQueries({ queryKey: migrationKeys.report(id), exact: true });
  }, [live.jobVersion, id, qc]);
  // A new pass (its ranges planned: the changed cells) shows as new totals in the progress messages.
  // Per disk: a disk set's disks speak in turn, and each one's own pass is what matters.
  const pass = Object.entries(live.diskProgress)
    .map(([disk, p]) => `${disk}:${p.phase}:${p.rangesTotal}:${p.bytesTotal}`)
    .join(",");
  // Each new reading of the snapshot (a prediction) brings the cells the VM changed since: "changed" on the map.
  const reading = `${job.data?.prediction?.at ?? ""}:${live.prediction?.at ?? ""}`;
  // biome-ignore lint/correctness/useExhaustiveDependencies: refetch the map when the phase, the pass or the reading changes.
  useEffect(() => {
    void qc.invalidateQueries({ queryKey: migrationKeys.chunkMaps(id) });
  }, [phase, pass, reading, id, qc]);

  const titleBytesDone = live.progress?.bytesDone ?? job.data?.bytesDone ?? 0;
  const titleBytesTotal = live.progress?.bytesTotal || job.data?.bytesTotal || 0;
  const missing = job.error instanceof ApiError && job.error.status === 404;
  usePageTitle(
    job.data
      ? jobTitle(job.data, phase ?? job.data.phase, percent(titleBytesDone, titleBytesTotal))
      : missing
        ? null // the Not found page names the tab
        : titled(`Migration #${id}`),
  );

  if (job.isPending) return <Loading what={`migration #${id}`} />;
  if (job.isError)
    return missing ? (
      <NotFound>There is no migration #{id}. It may have been removed, or the link is wrong.</NotFound>
    ) : (
      <ErrorState error={job.error} retry={() => void job.refetch()} />
    );
  const m: Migration = job.data;
  const hostName = (hid: number) => hosts.data?.find((h) => h.id === hid)?.name ?? `host ${hid}`;
  const p = live.progress;
  const outage = live.outageMs ?? m.outageMs;
  // Rate and ETA describe a copy in progress: once the job stops moving they would only be stale.
  const moving = m.state === "running" && p !== null;
  // A disk set's progress messages each carry one disk's counters: the job's figures are the disks' summed.
  const diskSet = m.disks.length > 1;
  const disks = diskFigures(m.disks, live.diskProgress, moving);
  const setTotals = totalFigures(disks);
  const bytesDone = diskSet ? setTotals.bytesDone : (p?.bytesDone ?? m.bytesDone);
  const bytesTotal = diskSet ? setTotals.bytesTotal : p?.bytesTotal || m.bytesTotal;
  // Streamed bytes wait for the target's read-back; only confirmed ones are stored (and survive a restart).
  const bytesStreamed = !moving ? 0 : diskSet ? setTotals.bytesStreamed : (p.bytesStreamed ?? 0);
  const rate = diskSet ? (store.throughput().at(-1)?.bytesPerSecond ?? 0) : (p?.bytesPerSecond ?? 0);
  const eta = diskSet ? setEtaSeconds(live.diskProgress, phase ?? m.phase) : (p?.etaSeconds ?? null);
  // A disk set's gauge shows its fullest snapshot: the first to overflow ends the copy.
  const fullest = Object.entries(live.diskSnapshotFill).sort(([, a], [, b]) => b - a)[0];
  const snapshotFill = diskSet ? (fullest?.[1] ?? null) : live.snapshotFillPercent;
  const mapOf = m.disks[mapDisk];
  const reached = bytesDone + bytesStreamed;
  // The pass a one-disk job's live figures count, while it is the job's work (verify is past the copies).
  const livePass = !diskSet && p?.phase === phase ? (disks[0]?.pass ?? null) : null;
  const ended = isTerminal(m.state);
  const facts = report.data;
  // A cancel that removed the target the job created leaves nothing of the copy: no "copied 100%".
  const targetGone = m.state === "cancelled" && facts?.targetRemoved === true;
  // The cutover still ahead: its prediction (the newer of the row's and the last event's) and its policy matter.
  const ahead = cutoverAhead(m);
  const prediction = newerPrediction(m.prediction, live.prediction);
  const openPolicy = () => {
    setPolicyOpen(true);
    // After the panel has opened: bring it into view with its first control focused.
    requestAnimationFrame(() => {
      const panel = document.getElementById(POLICY_PANEL_ID);
      panel?.scrollIntoView({ block: "start" });
      panel?.querySelector<HTMLInputElement>("input:checked, input")?.focus();
    });
  };

  return (
    <section aria-labelledby="job-title" className="job-detail">
      <p className="crumbs">
        <Link href="/jobs">← All migrations</Link>
      </p>
      <header className="job-head">
        <div>
          <h2 id="job-title">
            Migration #{m.id}: {movedWords(m)}
          </h2>
          <p className="muted">
            {diskSet ? (
              <>
                {hostName(m.source.hostId)} → {hostName(m.target.hostId)}, {m.disks.length} disks moved together
              </>
            ) : (
              <>
                {hostName(m.source.hostId)} {m.source.vg}/{m.source.lv} → {hostName(m.target.hostId)} {m.target.vg}/
                {m.target.lv}
                {m.target.thinPool ? ` (thin pool ${m.target.thinPool})` : ""}
              </>
            )}{" "}
            · {planWords(m)}
          </p>
          <DataPathLine job={m} hostName={hostName} />
        </div>
        <div className="head-right">
          <StateBadge state={m.state} />
          {ENDED.has(m.state) ? null : (
            <span
              className={`conn conn-${live.status}`}
              role="status"
              aria-live="polite"
              title={live.statusDetail ?? ""}
            >
              {live.status === "live" ? "live" : live.status}
            </span>
          )}
        </div>
      </header>

      {m.error ? (
        <div className="banner danger" role="alert">
          Failed in {phaseLabel(m.error.phase)}: <HumanText text={m.error.message} /> <code>{m.error.code}</code>
        </div>
      ) : null}
      <OutageBanner job={m} hostName={hostName} />
      {m.cutoverWait && ahead ? (
        <CutoverWaitBanner wait={m.cutoverWait} canAct={canAct} onChangePolicy={openPolicy} />
      ) : m.state === "waiting_cutover" ? (
        <div className="banner info" role="status" data-testid="in-sync">
          The copy is in sync.{" "}
          {m.cutover === "auto"
            ? "The automatic cutover starts as soon as its policy allows."
            : canAct
              ? "Cut over when the VM may stop: the expected outage is the final delta."
              : "An operator cuts over when the VM may stop."}
        </div>
      ) : null}

      {ahead && prediction ? <CutoverForecast prediction={prediction} /> : null}
      {canAct ? <JobActions job={m} prediction={ahead ? prediction : null} /> : null}
      {ahead ? <CutoverPolicyPanel job={m} canEdit={canAct} open={policyOpen} onToggle={setPolicyOpen} /> : null}

      <PhaseTimeline phase={phase ?? m.phase} state={m.state} phaseStarts={live.phaseStarts} report={facts} />

      <section className="stats" aria-label="Progress figures">
        {m.state === "succeeded" && facts ? (
          <div className="stat wide">
            <span className="stat-label">Moved in all passes</span>
            <ProgressBar value={100} label="Copy progress" />
            <span data-testid="bytes-progress">
              <Bytes n={facts.bytesMoved} /> in {facts.passes.length} {facts.passes.length === 1 ? "pass" : "passes"}
            </span>
            <span className="muted small">every pass confirmed by read-back, the final delta verified</span>
          </div>
        ) : targetGone ? (
          <div className="stat wide">
            <span className="stat-label">Copy</span>
            <span data-testid="bytes-progress">Target removed</span>
            <span className="muted small">
              the cancel removed {m.target.vg}/{m.target.lv}: nothing of the copy is kept
            </span>
          </div>
        ) : (
          <div className="stat wide">
            <span className="stat-label">{copiedLabel(phase ?? m.phase, bytesDone)}</span>
            <ProgressBar
              value={percent(bytesDone, bytesTotal)}
              ahead={percent(reached, bytesTotal)}
              label="Copy progress"
            />
            <span>
              <span data-testid="bytes-progress">
                <Bytes n={reached} /> of <Bytes n={bytesTotal} /> ({percent(reached, bytesTotal).toFixed(1)}%)
              </span>
              {livePass ? (
                <>
                  {" · "}
                  <span data-testid="copy-pass">{livePass}</span>
                </>
              ) : null}
            </span>
            <span className="muted small">
              <span data-testid="bytes-confirmed">
                <Bytes n={bytesDone} /> confirmed
              </span>
              {bytesStreamed > 0 ? (
                <>
                  {" · "}
                  <span data-testid="bytes-streamed">
                    <Bytes n={bytesStreamed} /> streamed, awaiting read-back
                  </span>
                </>
              ) : null}
            </span>
          </div>
        )}
        <div className="stat">
          <span className="stat-label">{diskSet ? "Size (all disks)" : "Volume size"}</span>
          <span
            data-testid="volume-size"
            title={m.sizeBytes === null ? "known once the prechecks have measured it" : exactBytes(m.sizeBytes)}
          >
            {formatBytes(m.sizeBytes)}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">Throughput</span>
          <span data-testid="rate">{moving ? <Rate n={rate} /> : "–"}</span>
        </div>
        <div className="stat">
          <span className="stat-label">ETA</span>
          <span data-testid="eta">{moving ? formatDuration(eta) : "–"}</span>
        </div>
        <div className="stat">
          <span className="stat-label">Outage</span>
          <span data-testid="outage">{formatMs(outage)}</span>
        </div>
        <div className="stat">
          <span className="stat-label">Started</span>
          <span>{formatTime(m.startedAt)}</span>
        </div>
        <div className="stat">
          <span className="stat-label">Finished</span>
          <span>{formatTime(m.finishedAt)}</span>
        </div>
      </section>

      {/* A succeeded set's disks are listed with what the migration did (FinishedFacts), not a last pass's bars. */}
      {diskSet && m.state !== "succeeded" ? <DisksPanel job={m} figures={disks} moving={moving} /> : null}

      <div className="panels">
        <div className="card">
          <h3>Chunk map{diskSet && mapOf ? ` · disk ${mapOf.index} (${mapOf.source.vg}/${mapOf.source.lv})` : ""}</h3>
          {diskSet ? <DiskSwitcher job={m} value={mapDisk} onChange={setMapDisk} /> : null}
          {targetGone ? (
            <p className="muted" data-testid="chunk-map-target-removed">
              The target volume was removed when the migration was cancelled: there is no copy left to map.
            </p>
          ) : chunkMap.data ? (
            <ChunkMapCanvas
              map={chunkMap.data}
              store={store}
              disk={mapDisk}
              label={
                diskSet && mapOf
                  ? `Chunk map of disk ${mapOf.index} (${mapOf.source.vg}/${mapOf.source.lv})`
                  : "Chunk map"
              }
            />
          ) : chunkMap.isError ? (
            <p className="muted">Chunk map unavailable: {errorText(chunkMap.error)}</p>
          ) : (
            <p className="muted">The map appears once the volume size is known.</p>
          )}
        </div>
        <div className="card side">
          <h3>Throughput</h3>
          <ThroughputChart samples={store.throughput()} version={live.progress} />
          <SnapshotGauge
            percent={snapshotFill}
            {...(diskSet && fullest ? { caption: `snapshot fill (disk ${fullest[0]}, the fullest)` } : {})}
          />
        </div>
      </div>

      {ended ? <FinishedFacts job={m} report={facts} /> : null}

      <div className="card">
        <h3>Log</h3>
        <LogView store={store} version={live.logVersion} />
      </div>
    </section>
  );
}

import type { Migration, VmOutage } from "@blockferry/contracts";
import { useEffect, useState } from "react";
import { formatClock, phaseLabel } from "../../lib/format.ts";

type HostName = (hostId: number) => string;

/** A running downtime as a clock reads it: "0:12", "12:05", "1:02:03". */
export function elapsedClock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/** Now, once a second while `ticking`: the downtime runs on the page without the server saying anything. */
function useNow(ticking: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!ticking) return;
    setNow(Date.now());
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}

/** Where the VM is, in one sentence: "VM stopped on lab1 since 08:31:27 (0:12), not running anywhere". */
function whereabouts(o: VmOutage, m: Migration, name: HostName, now: number) {
  if (o.state === "back_on_source")
    return (
      <>
        The VM runs again on {name(o.stoppedOn)} since {formatClock(o.since)}, after an outage of{" "}
        <span data-testid="outage-elapsed">{elapsedClock(o.outageMs ?? 0)}</span>: the migration rolled back.
      </>
    );
  const where =
    o.startingOn === null
      ? "not running anywhere"
      : o.startingOn === m.source.hostId
        ? `being started again on ${name(o.startingOn)}`
        : m.state === "failed"
          ? `a start on ${name(o.startingOn)} was tried and may have run`
          : `being started on ${name(o.startingOn)}`;
  return (
    <>
      {m.state === "failed" ? "The VM is down: " : ""}VM stopped on {name(o.stoppedOn)} since {formatClock(o.since)} (
      <span data-testid="outage-elapsed">{elapsedClock(now - Date.parse(o.since))}</span>), {where}.
    </>
  );
}

/** What Retry would do to the VM (the server's rules: VmOutage.retry), in words. */
function retryWords(o: VmOutage, m: Migration, name: HostName): string | null {
  const source = name(m.source.hostId);
  const target = name(m.target.hostId);
  switch (o.retry) {
    case "resume_then_start_on_target":
      if (m.phase === "stop_vm")
        return `makes sure the VM is stopped on ${source}, copies what it wrote as the final delta and starts the VM on ${target}`;
      if (m.phase === "final_delta") return `resumes the final delta and starts the VM on ${target}`;
      if (m.phase === "verify") return `verifies the copy again and starts the VM on ${target}`;
      return `resumes ${phaseLabel(m.phase).toLowerCase()} and starts the VM on ${target}`;
    case "start_on_target":
      return `tries again to start the VM on ${target}, where a start was already decided`;
    case "start_on_source":
      return `finishes the rollback: starts the VM again on ${source}`;
    case "cut_over_again":
      // A rollback removes the copies (the job is back at prechecks); one rolled back before that kept them.
      if (m.phase === "prechecks")
        return m.cutover === "auto"
          ? `copies the disks again from new snapshots while the VM runs on ${source}, then cuts over again`
          : `copies the disks again from new snapshots and waits for your cutover; the VM keeps running on ${source} until then`;
      return m.cutover === "auto"
        ? `copies what the VM wrote since, then cuts over again: stops it on ${source} and starts it on ${target}`
        : `copies what the VM wrote since and waits for your cutover; the VM keeps running on ${source} until then`;
    default:
      return null;
  }
}

/** What Cancel would do to the VM (VmOutage.cancel), in words. */
function cancelWords(o: VmOutage, m: Migration, name: HostName): string | null {
  const source = name(m.source.hostId);
  const target = name(m.target.hostId);
  switch (o.cancel) {
    case "start_on_source":
      return `starts the VM again on ${source} from its untouched disk`;
    case "stays_stopped":
      return m.vm.controller === "none"
        ? `does not start the VM: Blockferry does not control it; start it on ${source} yourself`
        : `leaves the VM stopped on ${source} (no start command for the source was given): start it yourself`;
    case "keeps_running_on_source":
      // Back at prechecks: the rollback removed the snapshots and the copies it could reach.
      if (m.phase === "prechecks")
        return `keeps the VM running on ${source} and ends the migration, removing whatever of it is still on ${target}`;
      return `keeps the VM running on ${source}, drops the snapshots and ${
        m.options.removeTargetOnCancel === false ? "keeps" : "removes"
      } the copy on ${target}`;
    case "refused":
      return `not possible: the VM may already run on ${target}, and starting it on ${source} too would corrupt its disk`;
    default:
      return null;
  }
}

/**
 * The outage as it happens: from the stop on the source until the VM runs again (on the target, or on the source
 * after a rollback), where the VM is, for how long it has been down, and what Retry and Cancel would do to it.
 */
export function OutageBanner({ job, hostName }: { job: Migration; hostName: HostName }) {
  const o = job.vmOutage;
  const now = useNow(o !== null && o.state !== "back_on_source");
  if (!o) return null;
  const retry = retryWords(o, job, hostName);
  const cancel = cancelWords(o, job, hostName);
  const alarming = job.state === "failed";
  return (
    <div
      className={`banner ${alarming ? "danger" : o.state === "back_on_source" ? "info" : "warning"} outage-banner`}
      role={alarming ? "alert" : "status"}
      data-testid="outage-banner"
    >
      <p className="outage-where">{whereabouts(o, job, hostName, now)}</p>
      {retry || cancel ? (
        <ul className="outage-actions">
          {retry ? (
            <li data-testid="outage-retry">
              <strong>Retry:</strong> {retry}.
            </li>
          ) : null}
          {cancel ? (
            <li data-testid="outage-cancel">
              <strong>Cancel:</strong> {cancel}.
            </li>
          ) : null}
        </ul>
      ) : null}
    </div>
  );
}

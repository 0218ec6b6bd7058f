import { EventStream, socketFactory } from "@blockferry/client";
import type {
  CreateMigration,
  HostList,
  Inventory,
  Migration,
  MigrationList,
  MigrationReport,
  OutagePrediction,
  ProgressMessage,
} from "@blockferry/contracts";
import { dataPathSummary, isTerminalJobState, JOB_STATE_LABELS, PHASE_LABELS } from "@blockferry/contracts/vocabulary";
import WebSocket from "ws";
import { api, authHeaders, CliApiError, type Connection, connection, parseArgs } from "../lib/api-client.ts";
import { parseBandwidth } from "../lib/bandwidth.ts";
import {
  beforeStop,
  cutoverAhead,
  cutoverFromFlags,
  outageText,
  POLICY_FLAGS,
  predictionLine,
  waitLine,
} from "../lib/cutover.ts";
import { combinedProgress, formatBytes, formatDuration, progressLine } from "../lib/progress.ts";
import { vmDiskSet } from "../lib/vm-disks.ts";

const USAGE = `usage:
  blockferry migrate --from HOST:VG/LV --to HOST:VG[/LV] [--thin-pool POOL] [--cutover manual|auto]
  blockferry migrate --from HOST --vm DOMAIN --to HOST:VG [--thin-pool POOL] ...
                     (a libvirt VM: its LV disks from the source's inventory, stopped and started by libvirt)
  blockferry migrate --from HOST --disk VG/LV [--disk VG/LV ...] --to HOST:VG [--thin-pool POOL] ...
                     (one VM's disks, moved together: one stop, one start)
                     [--max-outage SECONDS] [--max-passes N] [--not-before ISO] [--not-after ISO]
                     [--stop-cmd CMD --start-cmd CMD [--restart-cmd CMD] [--status-cmd CMD]]
                     [--catch-up N] [--bwlimit MIB_PER_S] [--data-path auto|direct|relay]
                     [--snapshot-size BYTES] [--verify-full] [--no-follow]
  blockferry migrate list
  blockferry migrate follow|status|cutover|cancel|retry ID
  blockferry migrate policy ID [--cutover manual|auto] [--max-outage SECONDS] [--max-passes N]
                     [--not-before ISO] [--not-after ISO]
HOST is a host name or id. --bwlimit is MiB/s: 20, 20M or 20MiB (also K, G, or B for bytes per second).
--max-outage, --max-passes, --not-before and --not-after imply --cutover auto: catch-up passes run until the
predicted outage fits, and the cutover starts inside the window (ISO times; without a zone, this machine's time).
The command follows the job with a progress bar, the predicted outage and why a cutover waits, until it ends.
options: --server URL (default $BLOCKFERRY_URL or http://127.0.0.1:7878)
         --token TOKEN (default $BLOCKFERRY_TOKEN, else the token file blockferry login wrote)`;

async function hostId(conn: Connection, ref: string): Promise<number> {
  const { hosts } = await api<HostList>(conn, "GET", "/api/hosts");
  const h = hosts.find((x) => x.name === ref || String(x.id) === ref);
  if (!h) throw new CliApiError(`no host named ${ref}; see blockferry hosts list`);
  return h.id;
}

/** Every value of a repeatable flag (`--disk a --disk b`, or `--disk=a`), in order. */
export function repeatedFlag(argv: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a === `--${name}`) out.push(argv[++i] ?? "");
    else if (a.startsWith(`--${name}=`)) out.push(a.slice(name.length + 3));
  }
  return out;
}

/** The disks of `--disk VG/LV` flags, each to the target VG (and thin pool) under its own name. */
export function disksFromFlags(values: readonly string[], to: { vg: string; lv?: string }, thinPool?: string) {
  if (to.lv && values.length > 1) throw new CliApiError("--to names one LV: with several --disk, give HOST:VG only");
  return values.map((v) => {
    const m = /^([^/]+)\/([^/]+)$/.exec(v);
    if (!m?.[1] || !m[2]) throw new CliApiError(`--disk must look like VG/LV, not ${JSON.stringify(v)}`);
    return {
      source: { vg: m[1], lv: m[2] },
      target: { vg: to.vg, ...(to.lv ? { lv: to.lv } : {}), ...(thinPool ? { thinPool } : {}) },
    };
  });
}

function parseLocation(s: string | undefined, what: string) {
  const m = s ? /^([^:]+):([^/]+)(?:\/(.+))?$/.exec(s) : null;
  if (!m?.[1] || !m[2]) throw new CliApiError(`--${what} must look like HOST:VG/LV`);
  return { host: m[1], vg: m[2], lv: m[3] };
}

/** Follows one job over the event stream, drawing a progress line; resolves with its final state. */
export async function follow(
  conn: Connection,
  id: number,
  out: NodeJS.WriteStream = process.stdout,
): Promise<Migration> {
  const job = await api<Migration>(conn, "GET", `/api/migrations/${id}`);
  if (isTerminalJobState(job.state)) return job;
  const clear = out.isTTY ? "\r\x1b[2K" : "";
  let waitingHint = false;
  /** The newest progress of each disk of a set, the most recent last. */
  const disks = new Map<number, ProgressMessage>();
  // A new prediction is printed when the downtime it says changes, not each time it is stored again.
  let saidPrediction = "";
  const sayPrediction = (p: OutagePrediction) => {
    const line = predictionLine(p);
    const downtime = line.slice(0, line.indexOf(" ("));
    if (downtime === saidPrediction) return;
    saidPrediction = downtime;
    out.write(`${clear}${line}\n`);
  };
  await new Promise<void>((resolve, reject) => {
    const stream = new EventStream(
      {
        url: `${conn.base.replace(/^http/, "ws")}/api/events/stream`,
        jobId: id,
        connect: socketFactory((url) => new WebSocket(url, { headers: authHeaders(conn) })),
        maxBackoffMs: 5000,
      },
      {
        progress(p) {
          if (!out.isTTY) return;
          if (p.disk === undefined) return void out.write(`${clear}${progressLine(p)}`);
          // A disk set's messages each carry one disk's counters: the line adds them up.
          disks.delete(p.disk);
          disks.set(p.disk, p);
          const all = combinedProgress([...disks.values()]);
          if (all) out.write(`${clear}${progressLine(all)} (${disks.size} disks)`);
        },
        event(e) {
          if (e.type === "job.phase") {
            const label = PHASE_LABELS[e.data.phase];
            out.write(out.isTTY ? `${clear}▸ ${label}\n` : `phase: ${label}\n`);
          }
          // Each copy pass says which way its bytes go ("full-g1: data path direct"), whatever its level.
          if (e.type === "job.log" && e.data.dataPath) out.write(`${clear}${e.data.message}\n`);
          else if (e.type === "job.log" && e.data.level !== "info")
            out.write(`${clear}${e.data.level}: ${e.data.message}\n`);
          // The last prediction is also taken right before the stop: "cut over now" no longer fits then.
          if (e.type === "job.prediction" && beforeStop(e.data.phase)) sayPrediction(e.data.prediction);
          if (e.type === "job.cutover_waiting") out.write(`${clear}${waitLine(e.data, id)}\n`);
          if (e.type === "job.outage") out.write(`${clear}outage ${formatDuration(e.data.outageMs / 1000)}\n`);
          if (e.type !== "job.state") return;
          if (e.data.state === "waiting_cutover" && !waitingHint) {
            waitingHint = true;
            out.write(
              `${clear}copy done; the VM still runs on the source. Cut over with: blockferry migrate cutover ${id}\n`,
            );
          }
          if (isTerminalJobState(e.data.state)) {
            stream.close();
            resolve();
          }
        },
        // While the stream reconnects, ask the API: it tells whether the job ended, or that the server is gone.
        status(s) {
          if (s !== "reconnecting") return;
          api<Migration>(conn, "GET", `/api/migrations/${id}`).then(
            (j) => {
              if (!isTerminalJobState(j.state)) return;
              stream.close();
              resolve();
            },
            (err: unknown) => {
              stream.close();
              reject(err);
            },
          );
        },
      },
    ).start();
  });
  return api<Migration>(conn, "GET", `/api/migrations/${id}`);
}

export function summary(job: Migration): string {
  const parts = [`migration ${job.id}: ${JOB_STATE_LABELS[job.state]} (${PHASE_LABELS[job.phase]})`];
  if (job.bytesTotal) parts.push(`${formatBytes(job.bytesDone)} of ${formatBytes(job.bytesTotal)}`);
  if (job.dataPath.ran !== null || job.dataPath.requested !== "relay")
    parts.push(`data path ${dataPathSummary(job.dataPath)}`);
  const outage = outageText(job);
  if (outage) parts.push(outage);
  if (job.prediction && cutoverAhead(job)) parts.push(predictionLine(job.prediction));
  if (job.cutoverWait && cutoverAhead(job)) parts.push(waitLine(job.cutoverWait, job.id));
  if (job.error) parts.push(`error: ${job.error.message}`);
  const lines = [parts.join(", ")];
  // A VM's disk set: one line per disk (a one-disk migration says it all above).
  if (job.disks.length > 1)
    for (const d of job.disks)
      lines.push(
        `  disk ${d.index}: ${d.source.vg}/${d.source.lv} -> ${d.target.vg}/${d.target.lv}` +
          `${d.kind ? ` (${d.kind})` : ""}, ${d.state}` +
          (d.bytesTotal ? `, ${formatBytes(d.bytesDone)} of ${formatBytes(d.bytesTotal)}` : ""),
      );
  return lines.join("\n");
}

/**
 * One line per rollback that discarded copies, from the migration's report: when, where, why, and the passes it
 * discarded as their job.copied events recorded them (the report's passes are only the copy that exists now).
 */
export function rollbackLines(report: Pick<MigrationReport, "rollbacks">, disks: number): string[] {
  return report.rollbacks.map((r) => {
    const passes = r.discardedPasses.map(
      (p) => `${p.pass}${disks > 1 ? ` (disk ${p.disk})` : ""} ${formatBytes(p.bytesRead)}`,
    );
    return (
      `  attempt ${r.attempt} rolled back ${r.at} in ${PHASE_LABELS[r.phase]} ` +
      `(VM down ${formatDuration(r.outageMs / 1000)}): ${r.reason}; discarded: ${passes.join(", ") || "no finished pass"}`
    );
  });
}

/** The status line, and under it what each rollback discarded (read from the report). */
export async function statusText(conn: Connection, job: Migration): Promise<string> {
  const report = await api<MigrationReport>(conn, "GET", `/api/migrations/${job.id}/report`);
  return [summary(job), ...rollbackLines(report, job.disks.length)].join("\n");
}

export async function run(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, ["verify-full", "no-follow", "json"]);
  const [sub, idArg] = positional;
  try {
    const conn = connection(flags);
    if (sub === "list") {
      const { migrations } = await api<MigrationList>(conn, "GET", "/api/migrations");
      for (const m of migrations) process.stdout.write(`${summary(m)}\n`);
      return 0;
    }
    if (sub === "policy") {
      const id = Number(idArg);
      if (!Number.isInteger(id) || id < 1) throw new CliApiError("policy needs a migration id");
      if (!flags.has("cutover") && !POLICY_FLAGS.some((f) => flags.has(f)))
        throw new CliApiError("policy needs --cutover manual|auto or a budget, pass limit or window flag");
      const policy = cutoverFromFlags(flags, { short: false });
      const job = await api<Migration>(conn, "PUT", `/api/migrations/${id}/cutover-policy`, policy);
      process.stdout.write(`${summary(job)}\n`);
      return 0;
    }
    if (sub && ["follow", "status", "cutover", "cancel", "retry"].includes(sub)) {
      const id = Number(idArg);
      if (!Number.isInteger(id) || id < 1) throw new CliApiError(`${sub} needs a migration id`);
      if (sub === "status") {
        process.stdout.write(`${await statusText(conn, await api<Migration>(conn, "GET", `/api/migrations/${id}`))}\n`);
        return 0;
      }
      if (sub !== "follow")
        process.stdout.write(`${summary(await api<Migration>(conn, "POST", `/api/migrations/${id}/${sub}`))}\n`);
      if (sub === "cutover" || sub === "follow" || sub === "retry") {
        const job = await follow(conn, id);
        process.stdout.write(`\n${await statusText(conn, job)}\n`);
        return job.state === "succeeded" ? 0 : 1;
      }
      return 0;
    }
    if (sub !== undefined || !flags.has("from")) {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    const diskFlags = repeatedFlag(argv, "disk");
    const vmName = flags.get("vm");
    if (vmName !== undefined && diskFlags.length) throw new CliApiError("--vm takes the VM's disks: give no --disk");
    const from =
      diskFlags.length || vmName !== undefined
        ? { host: (flags.get("from") ?? "").split(":")[0] ?? "", vg: "", lv: "" }
        : parseLocation(flags.get("from"), "from");
    const to = parseLocation(flags.get("to"), "to");
    if (!from.lv && !diskFlags.length && vmName === undefined)
      throw new CliApiError("--from must name the LV: HOST:VG/LV");
    const stop = flags.get("stop-cmd");
    const start = flags.get("start-cmd");
    if (Boolean(stop) !== Boolean(start)) throw new CliApiError("--stop-cmd and --start-cmd go together");
    const dataPath = flags.get("data-path");
    if (dataPath !== undefined && dataPath !== "auto" && dataPath !== "direct" && dataPath !== "relay")
      throw new CliApiError(`--data-path ${dataPath}: give auto, direct or relay`);
    const sourceHostId = await hostId(conn, from.host);
    const targetHostId = await hostId(conn, to.host);
    const vmSet =
      vmName === undefined
        ? null
        : vmDiskSet(
            await api<Inventory>(conn, "GET", `/api/hosts/${sourceHostId}/inventory`),
            vmName,
            to,
            flags.get("thin-pool"),
          );
    for (const line of vmSet?.notMoved ?? []) process.stderr.write(`not moved: ${line}\n`);
    const volumes = vmSet
      ? { sourceHostId, targetHostId, disks: vmSet.disks }
      : diskFlags.length
        ? { sourceHostId, targetHostId, disks: disksFromFlags(diskFlags, to, flags.get("thin-pool")) }
        : {
            source: { hostId: sourceHostId, vg: from.vg, lv: from.lv ?? "" },
            target: {
              hostId: targetHostId,
              vg: to.vg,
              ...(to.lv ? { lv: to.lv } : {}),
              ...(flags.get("thin-pool") ? { thinPool: flags.get("thin-pool") } : {}),
            },
          };
    const body: CreateMigration = {
      ...volumes,
      vm:
        vmName !== undefined && !(stop && start)
          ? { controller: "libvirt", domain: vmName }
          : stop && start
            ? {
                controller: "commands",
                stopSource: stop,
                startTarget: start,
                ...(flags.get("restart-cmd") ? { startSource: flags.get("restart-cmd") } : {}),
                ...(flags.get("status-cmd") ? { status: flags.get("status-cmd") } : {}),
              }
            : { controller: "none" },
      cutover: cutoverFromFlags(flags),
      options: {
        ...(flags.has("catch-up") ? { catchUpPasses: Number(flags.get("catch-up")) } : {}),
        ...(flags.has("bwlimit") ? { bandwidthLimitBytesPerSecond: parseBandwidth(flags.get("bwlimit") ?? "") } : {}),
        ...(flags.has("snapshot-size") ? { snapshotSizeBytes: Number(flags.get("snapshot-size")) } : {}),
        ...(flags.has("verify-full") ? { verifyFull: true } : {}),
        ...(dataPath ? { dataPath } : {}),
      },
    };
    const job = await api<Migration>(conn, "POST", "/api/migrations", body);
    process.stdout.write(`migration ${job.id} created\n`);
    if (flags.has("no-follow")) return 0;
    const done = await follow(conn, job.id);
    process.stdout.write(`\n${await statusText(conn, done)}\n`);
    return done.state === "succeeded" ? 0 : 1;
  } catch (err) {
    if (err instanceof CliApiError) {
      process.stderr.write(`blockferry migrate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

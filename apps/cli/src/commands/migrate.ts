import type { CreateMigration, HostList, Migration, MigrationList, ServerMessage } from "@blockferry/contracts";
import WebSocket from "ws";
import { api, CliApiError, parseArgs, serverUrl } from "../lib/api-client.ts";
import { formatBytes, formatDuration, progressLine } from "../lib/progress.ts";

const USAGE = `usage:
  blockferry migrate --from HOST:VG/LV --to HOST:VG[/LV] [--thin-pool POOL] [--cutover manual|auto]
                     [--stop-cmd CMD --start-cmd CMD [--restart-cmd CMD]] [--catch-up N] [--bwlimit BYTES_PER_S]
                     [--snapshot-size BYTES] [--verify-full] [--no-follow]
  blockferry migrate list
  blockferry migrate follow|status|cutover|cancel|retry ID
HOST is a host name or id. The command follows the job with a progress bar until it ends.
options: --server URL (default $BLOCKFERRY_URL or http://127.0.0.1:7878)`;

const FINAL = new Set(["succeeded", "failed", "cancelled", "rolled_back"]);

async function hostId(base: string, ref: string): Promise<number> {
  const { hosts } = await api<HostList>(base, "GET", "/api/hosts");
  const h = hosts.find((x) => x.name === ref || String(x.id) === ref);
  if (!h) throw new CliApiError(`no host named ${ref}; see blockferry hosts list`);
  return h.id;
}

function parseLocation(s: string | undefined, what: string) {
  const m = s ? /^([^:]+):([^/]+)(?:\/(.+))?$/.exec(s) : null;
  if (!m?.[1] || !m[2]) throw new CliApiError(`--${what} must look like HOST:VG/LV`);
  return { host: m[1], vg: m[2], lv: m[3] };
}

/** Follows one job over the event stream, drawing a progress line; resolves with its final state. */
export async function follow(base: string, id: number, out: NodeJS.WriteStream = process.stdout): Promise<Migration> {
  let job = await api<Migration>(base, "GET", `/api/migrations/${id}`);
  if (FINAL.has(job.state)) return job;
  const tty = out.isTTY;
  let lastId = 0;
  let waitingHint = false;
  for (let attempt = 0; ; attempt++) {
    const ended = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`${base.replace(/^http/, "ws")}/api/events/stream?jobId=${id}&after=${lastId}`);
      ws.on("message", (raw) => {
        const m = JSON.parse(String(raw)) as ServerMessage;
        if (m.kind === "progress") {
          const line = progressLine(m.progress);
          if (tty) out.write(`\r\x1b[2K${line}`);
        } else if (m.kind === "event") {
          lastId = m.event.id;
          const d = m.event.data as Record<string, unknown>;
          if (m.event.type === "job.phase" && !tty) out.write(`phase ${String(d.phase)}\n`);
          if (m.event.type === "job.phase" && tty) out.write(`\r\x1b[2K▸ ${String(d.phase)}\n`);
          if (m.event.type === "job.log" && d.level !== "info")
            out.write(`${tty ? "\r\x1b[2K" : ""}${String(d.level)}: ${String(d.message)}\n`);
          if (m.event.type === "job.outage")
            out.write(`${tty ? "\r\x1b[2K" : ""}outage ${formatDuration(Number(d.outageMs) / 1000)}\n`);
          if (m.event.type === "job.state") {
            const state = String(d.state);
            if (state === "waiting_cutover" && !waitingHint) {
              waitingHint = true;
              out.write(
                `${tty ? "\r\x1b[2K" : ""}copy done; the VM still runs on the source. Cut over with: blockferry migrate cutover ${id}\n`,
              );
            }
            if (FINAL.has(state)) {
              ws.close();
              resolve(true);
            }
          }
        }
      });
      ws.on("close", () => resolve(false));
      ws.on("error", () => resolve(false));
    });
    job = await api<Migration>(base, "GET", `/api/migrations/${id}`);
    if (ended || FINAL.has(job.state)) return job;
    await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
  }
}

function summary(job: Migration): string {
  const parts = [`migration ${job.id}: ${job.state} (phase ${job.phase})`];
  if (job.bytesTotal) parts.push(`${formatBytes(job.bytesDone)} of ${formatBytes(job.bytesTotal)}`);
  if (job.outageMs !== null) parts.push(`outage ${formatDuration(job.outageMs / 1000)}`);
  if (job.error) parts.push(`error: ${job.error.message}`);
  return parts.join(", ");
}

export async function run(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, ["verify-full", "no-follow", "json"]);
  const base = serverUrl(flags);
  const [sub, idArg] = positional;
  try {
    if (sub === "list") {
      const { migrations } = await api<MigrationList>(base, "GET", "/api/migrations");
      for (const m of migrations) process.stdout.write(`${summary(m)}\n`);
      return 0;
    }
    if (sub && ["follow", "status", "cutover", "cancel", "retry"].includes(sub)) {
      const id = Number(idArg);
      if (!Number.isInteger(id) || id < 1) throw new CliApiError(`${sub} needs a migration id`);
      if (sub === "status") {
        process.stdout.write(`${summary(await api<Migration>(base, "GET", `/api/migrations/${id}`))}\n`);
        return 0;
      }
      if (sub !== "follow")
        process.stdout.write(`${summary(await api<Migration>(base, "POST", `/api/migrations/${id}/${sub}`))}\n`);
      if (sub === "cutover" || sub === "follow" || sub === "retry") {
        const job = await follow(base, id);
        process.stdout.write(`\n${summary(job)}\n`);
        return job.state === "succeeded" ? 0 : 1;
      }
      return 0;
    }
    if (sub !== undefined || !flags.has("from")) {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    const from = parseLocation(flags.get("from"), "from");
    const to = parseLocation(flags.get("to"), "to");
    if (!from.lv) throw new CliApiError("--from must name the LV: HOST:VG/LV");
    const stop = flags.get("stop-cmd");
    const start = flags.get("start-cmd");
    if (Boolean(stop) !== Boolean(start)) throw new CliApiError("--stop-cmd and --start-cmd go together");
    const body: CreateMigration = {
      source: { hostId: await hostId(base, from.host), vg: from.vg, lv: from.lv },
      target: {
        hostId: await hostId(base, to.host),
        vg: to.vg,
        ...(to.lv ? { lv: to.lv } : {}),
        ...(flags.get("thin-pool") ? { thinPool: flags.get("thin-pool") } : {}),
      },
      vm:
        stop && start
          ? {
              controller: "commands",
              stopSource: stop,
              startTarget: start,
              ...(flags.get("restart-cmd") ? { startSource: flags.get("restart-cmd") } : {}),
            }
          : { controller: "none" },
      cutover: flags.get("cutover") === "auto" ? "auto" : "manual",
      options: {
        ...(flags.has("catch-up") ? { catchUpPasses: Number(flags.get("catch-up")) } : {}),
        ...(flags.has("bwlimit") ? { bandwidthLimitBytesPerSecond: Number(flags.get("bwlimit")) } : {}),
        ...(flags.has("snapshot-size") ? { snapshotSizeBytes: Number(flags.get("snapshot-size")) } : {}),
        ...(flags.has("verify-full") ? { verifyFull: true } : {}),
      },
    };
    const job = await api<Migration>(base, "POST", "/api/migrations", body);
    process.stdout.write(`migration ${job.id} created\n`);
    if (flags.has("no-follow")) return 0;
    const done = await follow(base, job.id);
    process.stdout.write(`\n${summary(done)}\n`);
    return done.state === "succeeded" ? 0 : 1;
  } catch (err) {
    if (err instanceof CliApiError) {
      process.stderr.write(`blockferry migrate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

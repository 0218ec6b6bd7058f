// Issue 16, side by side in one lab run: the outage of a Blockferry migration of a 1 GiB LV with about 1% changed,
// against the offline move an operator does today (stop the VM, `ssh src dd | ssh dst dd` of the whole volume
// through this machine, start the VM on the target). Both on the same two fresh lab hosts, timed from the stop
// command to the end of the start command; sha256 of source and target compared after each.
// The "VM" is the lab writer (bf-workload). On the target it starts writing to a small scratch LV, not the moved
// one: the start costs the same, and the moved volume stays as copied so its sha256 can be compared.
// Run: `pnpm bench:outage` (as root: it boots two qemu hosts; several minutes under TCG). Size: BF_BENCH_MIB
// (default 1024); BF_BENCH_WRITER_KIB: the writer's rate (default: derived from the offline copy's time);
// BF_BENCH_CATCH_UP_PASSES: catch-up passes before the wait for the cutover (default 1); BF_BENCH_CUTOVER:
// `budget` (default) or `manual` (see below).
// One JSON result line on stdout (as `pnpm bench` prints), a table and progress on stderr.
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { bootLab, type LabHost, labExec, shutdownLab, startWatchdog } from "../e2e/lab/harness.ts";
import { repoRoot } from "../e2e/lab/paths.ts";
import { sshArgs } from "../e2e/lab/ssh.ts";
import { sh } from "../e2e/tests/support/lvm.ts";
import { startServerWithLabHosts } from "../e2e/tests/support/server.ts";

const MiB = 1024 * 1024;
const VOLUME_MIB = Number(process.env.BF_BENCH_MIB ?? 1024);
const VOLUME = VOLUME_MIB * MiB;
const CHANGED_SHARE = 0.01;
/**
 * BF_BENCH_CUTOVER: `budget` (default): with ~1% changed the operator sets an automatic cutover with an outage budget
 * (what the cutover policy is for); `manual`: the operator cuts over at once and the final delta holds the ~1%.
 */
const CUTOVER = process.env.BF_BENCH_CUTOVER === "manual" ? "manual" : "budget";
/** BF_BENCH_CATCH_UP_PASSES (default 1; 0: the final delta holds everything written since the full copy began). */
const CATCH_UP_PASSES = Number(process.env.BF_BENCH_CATCH_UP_PASSES ?? 1);
const VG = "vg0";
const LV = "vm";
const DEVICE = `/dev/${VG}/${LV}`;
const SCRATCH = `/dev/${VG}/scratch`;
const HOUR = 3_600_000;
const LONG = { timeoutMs: HOUR };

const log = (m: string) => process.stderr.write(`[outage bench] ${m}\n`);
const secs = (ms: number) => Math.round(ms) / 1000;
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);
const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
const ssh = (host: LabHost, command: string) => ["ssh", ...sshArgs(host), command].map(q).join(" ");
const until = async (what: string, check: () => Promise<boolean>, timeoutMs = HOUR) => {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
};

/** Runs a local shell pipeline; rejects with its stderr on a non-zero exit. */
function pipeline(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", command], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`pipeline exited ${code}: ${err}`))));
  });
}

/** Writes so far by the lab writer on a host (its own counter). */
async function writerWrites(host: LabHost): Promise<number> {
  const status = await sh(host, "bf-workload status || true");
  return Number(/writes=(\d+)/.exec(status)?.[1] ?? 0);
}

/** Bytes the classic snapshot of LV holds now (the chunks written since it was taken), from dmsetup; 0 when none. */
async function snapshotChangedBytes(host: LabHost): Promise<number> {
  const out = await sh(
    host,
    `s=$(lvs --noheadings -o lv_name,origin ${VG} | awk '$2=="${LV}"{print $1}' | head -n1); ` +
      `[ -n "$s" ] && dmsetup status ${VG}-$(echo "$s" | sed 's/-/--/g') || true`,
  );
  // "0 <sectors> snapshot <allocated>/<total> <metadata>": allocated sectors include the metadata ones.
  const m = /snapshot (\d+)\/\d+ (\d+)/.exec(out);
  return m ? (Number(m[1]) - Number(m[2])) * 512 : 0;
}

/** sha256 of the LV; with its own timeout: on a loaded machine TCG hashes 1 GiB in more than sh's 5 minutes. */
async function sha256(host: LabHost, device: string): Promise<string> {
  const r = await labExec(host, `dd if=${device} bs=4M iflag=direct status=none | sha256sum`, LONG);
  return r.stdout.split(" ")[0] ?? "";
}

async function equalHashes(src: LabHost, dst: LabHost, what: string): Promise<string> {
  const [a, b] = await Promise.all([sha256(src, DEVICE), sha256(dst, DEVICE)]);
  if (a !== b || !a) throw new Error(`${what}: sha256 differs (${src.name} ${a}, ${dst.name} ${b})`);
  return a;
}

/** Stop, whole-volume dd through this machine, start: the operator's move. Returns its parts in ms. */
async function offlineMove(lab1: LabHost, lab2: LabHost, rateKiB: number) {
  await sh(lab2, `lvcreate -q -y -L ${VOLUME_MIB}m -n ${LV} ${VG}`); // made ahead, as an operator would
  await sh(lab1, `bf-workload start ${DEVICE} ${rateKiB} >/dev/null`);
  await until("the writer's first writes", async () => (await writerWrites(lab1)) >= 5);
  const t0 = performance.now();
  await labExec(lab1, "bf-workload stop >/dev/null");
  const t1 = performance.now();
  // fsync: the copy is on the target's disk before the VM starts there, as Blockferry's is.
  await pipeline(
    `${ssh(lab1, `dd if=${DEVICE} bs=4M status=none`)} | ${ssh(lab2, `dd of=${DEVICE} bs=4M conv=fsync status=none`)}`,
  );
  const t2 = performance.now();
  await labExec(lab2, `bf-workload start ${SCRATCH} ${rateKiB} >/dev/null`);
  const t3 = performance.now();
  await equalHashes(lab1, lab2, "offline move");
  await sh(lab2, "bf-workload stop >/dev/null");
  return { outageMs: t3 - t0, stopMs: t1 - t0, copyMs: t2 - t1, startMs: t3 - t2 };
}

async function blockferryMove(lab1: LabHost, lab2: LabHost, rateKiB: number) {
  const { server, api, src, dst } = await startServerWithLabHosts(lab1, lab2);
  try {
    await sh(lab1, `bf-workload start ${DEVICE} ${rateKiB} >/dev/null`);
    const job = await api.createMigration({
      source: { hostId: src.id, vg: VG, lv: LV },
      target: { hostId: dst.id, vg: VG },
      vm: {
        controller: "commands",
        stopSource: "bf-workload stop",
        startSource: `bf-workload start ${DEVICE} ${rateKiB}`,
        startTarget: `bf-workload start ${SCRATCH} ${rateKiB}`,
      },
      cutover: "manual",
      // One catch-up pass first, as a warm migration runs: it sends what the VM wrote during the long full copy
      // (several percent on a quiet machine), so the final delta holds what changed since, about 1% when cut over.
      options: { snapshotChunkKiB: 64, snapshotSizeBytes: 128 * MiB, catchUpPasses: CATCH_UP_PASSES },
    });
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover", 2 * HOUR);
    const atReady = await snapshotChangedBytes(lab1);
    log(`waiting_cutover with ${(atReady / MiB).toFixed(1)} MiB changed; cutting over at >= 1%`);
    let atDecision = 0;
    await until("1% changed", async () => {
      atDecision = await snapshotChangedBytes(lab1);
      return atDecision >= CHANGED_SHARE * VOLUME;
    });
    let budgetSeconds: number | null = null;
    if (CUTOVER === "budget") {
      // The operator's decision with ~1% changed is an outage budget: the policy sends what changed while the VM
      // still runs, and stops it once the predicted outage fits (a cutover with nothing to send costs `idle`).
      const ready = await api.waitFor(job.id, (m) => m.prediction?.idleOutageSeconds !== undefined, 60_000);
      budgetSeconds = Math.round(((ready.prediction?.idleOutageSeconds ?? 0) + 2) * 10) / 10;
      log(`budget ${budgetSeconds} s (prediction now ${ready.prediction?.outageSeconds} s)`);
      await api.call("PUT", `/api/migrations/${job.id}/cutover-policy`, {
        mode: "auto",
        maxOutageSeconds: budgetSeconds,
      });
    } else {
      await api.cutover(job.id);
    }
    const done = await api.waitFor(job.id, (m) => m.state === "succeeded", 600_000);
    await equalHashes(lab1, lab2, "Blockferry migration");
    await sh(lab2, "bf-workload stop >/dev/null");

    const { events } = await api.call<{ events: { type: string; at: string; data: unknown }[] }>(
      "GET",
      `/api/jobs/${job.id}/events?limit=1000`,
    );
    const at = (phase: string) =>
      Date.parse(events.find((e) => e.type === "job.phase" && (e.data as { phase: string }).phase === phase)?.at ?? "");
    // The final delta's log line: its bytes, and when its change list was read (the copy starts then).
    const deltaLog = events.find(
      (e) => e.type === "job.log" && String((e.data as { message: string }).message).startsWith("final delta"),
    );
    const delta = deltaLog?.data as { bytes: number; message: string } | undefined;
    const phases = ["stop_vm", "final_delta", "verify", "start_vm", "cleanup"];
    const phaseMs = Object.fromEntries(phases.slice(0, -1).map((p, i) => [p, at(phases[i + 1] as string) - at(p)]));
    // The outage in the order it happens: stop_vm's gate and forecast run before the stop and are not part of it.
    const stoppedAt = Date.parse(events.find((e) => e.type === "job.vm_stopped")?.at ?? "");
    const deltaPlannedAt = Date.parse(deltaLog?.at ?? "");
    const outagePartsMs = {
      stop_command: at("final_delta") - stoppedAt,
      change_list: deltaPlannedAt - at("final_delta"),
      delta_copy: at("verify") - deltaPlannedAt,
      verify: at("start_vm") - at("verify"),
      start_vm: at("cleanup") - at("start_vm"),
    };
    if (done.outageMs === null) throw new Error("the migration succeeded without a measured outage");
    const passes = events.filter(
      (e) => e.type === "job.copied" && String((e.data as { pass: string }).pass).startsWith("catchup"),
    );
    return {
      outageMs: done.outageMs,
      predictedOutageSeconds: done.predictedOutageSeconds,
      changedAtDecisionBytes: atDecision,
      budgetSeconds,
      catchUpPasses: passes.length,
      changedBytes: delta?.bytes ?? 0,
      changedAtReadyBytes: atReady,
      fullCopyMs: at("catch_up") - at("full_copy"),
      phaseMs,
      outagePartsMs,
      deltaMessage: delta?.message ?? "",
    };
  } finally {
    await server.close();
  }
}

async function main() {
  const dir = join(repoRoot, ".lab", `bench-outage-${process.pid}`);
  startWatchdog(dir, process.pid); // no qemu outlives this process, however it ends
  const loadAtStart = load();
  try {
    const [lab1, lab2] = (await bootLab(2, { dir, fresh: true, log })) as [LabHost, LabHost];
    for (const h of [lab1, lab2]) await labExec(h, `pvcreate -q /dev/vda && vgcreate -q ${VG} /dev/vda`);
    await sh(lab2, `lvcreate -q -y -L 16m -n scratch ${VG}`);
    await labExec(
      lab1,
      `lvcreate -q -y -L ${VOLUME_MIB}m -n ${LV} ${VG} && ` +
        `dd if=/dev/urandom of=${DEVICE} bs=4M count=${VOLUME_MIB / 4} oflag=direct status=none`,
      LONG,
    );
    log(`${VOLUME_MIB} MiB of random data on ${lab1.name}; load ${load().join(" ")}`);

    // Offline first: its copy time sets the writer's rate, so that ~1% changes during Blockferry's full copy.
    const loadOffline = load();
    const offline = await offlineMove(lab1, lab2, 64);
    log(`offline: outage ${secs(offline.outageMs)} s (copy ${secs(offline.copyMs)} s), sha256 equal`);
    await sh(lab2, `lvremove -q -y ${VG}/${LV}`); // Blockferry creates its own target

    // Aim for 1% changed by the end of a full copy taking 1.5x dd's time, at least 64 KiB/s: under load the guest
    // starves the (niced) writer during the copy. Short of 1% at waiting_cutover, it waits there until it has changed.
    const rateKiB =
      Number(process.env.BF_BENCH_WRITER_KIB ?? 0) ||
      Math.max(64, Math.min(400, Math.round((CHANGED_SHARE * VOLUME) / 1024 / ((1.5 * offline.copyMs) / 1000))));
    log(`Blockferry: writer at ${rateKiB} KiB/s (64 KiB writes at random offsets)`);
    const loadBlockferry = load();
    const bf = await blockferryMove(lab1, lab2, rateKiB);
    log(`Blockferry: outage ${secs(bf.outageMs)} s, ${bf.deltaMessage}, sha256 equal`);

    const ratioPct = Math.round((bf.outageMs / offline.outageMs) * 10000) / 100;
    const rows = [
      ["volume", `${VOLUME_MIB} MiB`],
      [
        "changed at the decision",
        `${(bf.changedAtDecisionBytes / MiB).toFixed(1)} MiB (${((100 * bf.changedAtDecisionBytes) / VOLUME).toFixed(2)}%)`,
      ],
      ["cutover", CUTOVER === "budget" ? `automatic, budget ${bf.budgetSeconds} s` : "manual, at once"],
      [
        "changed (final delta)",
        `${(bf.changedBytes / MiB).toFixed(1)} MiB (${((100 * bf.changedBytes) / VOLUME).toFixed(2)}%)`,
      ],
      ["Blockferry outage", `${secs(bf.outageMs)} s`],
      ["offline outage", `${secs(offline.outageMs)} s`],
      ["ratio", `${ratioPct}% (goal <= 5%)`],
    ];
    for (const [k, v] of rows) process.stderr.write(`${(k as string).padEnd(24)}${v}\n`);
    process.stdout.write(
      `${JSON.stringify({
        name: "outage_vs_offline",
        volume_bytes: VOLUME,
        changed_bytes: bf.changedBytes,
        changed_at_ready_bytes: bf.changedAtReadyBytes,
        changed_at_decision_bytes: bf.changedAtDecisionBytes,
        cutover: CUTOVER,
        budget_s: bf.budgetSeconds,
        predicted_outage_s: bf.predictedOutageSeconds,
        catch_up_passes_run: bf.catchUpPasses,
        blockferry_outage_s: secs(bf.outageMs),
        offline_outage_s: secs(offline.outageMs),
        ratio_pct: ratioPct,
        target: "ratio_pct <= 5",
        blockferry_phases_s: Object.fromEntries(Object.entries(bf.phaseMs).map(([k, v]) => [k, secs(v)])),
        blockferry_outage_parts_s: Object.fromEntries(Object.entries(bf.outagePartsMs).map(([k, v]) => [k, secs(v)])),
        blockferry_full_copy_s: secs(bf.fullCopyMs),
        offline_parts_s: { stop: secs(offline.stopMs), copy: secs(offline.copyMs), start: secs(offline.startMs) },
        writer_kib_s: rateKiB,
        catch_up_passes: CATCH_UP_PASSES,
        load_avg: { start: loadAtStart, offline: loadOffline, blockferry: loadBlockferry, end: load() },
      })}\n`,
    );
  } finally {
    await shutdownLab({ dir, wipe: true });
  }
}

await main();

// `pnpm soak`: migrations back and forth between two fresh lab hosts with the writer running, a classic LV and a
// thin one taking turns, each verified by sha256. Before and after: nothing of ours left on the hosts (snapshots,
// LVs, processes, key lines, SSH sessions), and the server's open file descriptors and RSS, first and last.
// Not part of CI (it takes long under TCG). BLOCKFERRY_SOAK_COUNT sets the number of migrations (default 20).
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bootLab, type LabHost, labExec, shutdownLab } from "../lab/harness.ts";
import { repoRoot } from "../lab/paths.ts";
import { leftovers, sh, sha256 } from "../tests/support/lvm.ts";
import { startServerWithLabHosts } from "../tests/support/server.ts";

const COUNT = Number(process.env.BLOCKFERRY_SOAK_COUNT ?? 20);
const VG = "vg0";
const MIB = 1024 * 1024;
const LV_MIB = 64;
const say = (line: string) => process.stderr.write(`soak: ${line}\n`);

/** What must be the same before and after on a host: anything of ours left over would show here. */
async function hostFootprint(host: LabHost) {
  const left = await leftovers(host, VG);
  const lvs = (await sh(host, `lvs --noheadings -o lv_name,lv_tags ${VG} 2>/dev/null || true`))
    .split("\n")
    .map((l) => l.trim())
    // The migrated volumes themselves carry the tag of the job that made them: those are the VMs, not leftovers.
    .filter((l) => l.includes("blockferry") && !/^soak[ct]\s/.test(l));
  const keys = Number(
    (await sh(host, "grep -c blockferry /root/.ssh/authorized_keys 2>/dev/null || true")).trim() || 0,
  );
  // sshd sessions beyond the listener: one per open SSH connection (the lab's own multiplexed one included).
  const sshSessions = Number((await sh(host, "ps -eo args | grep -c '^sshd: ' || true")).trim() || 0);
  return { snapshots: left.lvs, taggedLvs: lvs, processes: left.processes, keyLines: keys, sshSessions };
}

const fdCount = () => readdirSync("/proc/self/fd").length;
const rssMiB = () => Math.round(process.memoryUsage().rss / MIB);

async function main() {
  const dir = join(repoRoot, ".lab", `soak-${process.pid}`);
  const started = Date.now();
  const hosts = await bootLab(2, { dir, fresh: true, log: say });
  const [lab1, lab2] = hosts as [LabHost, LabHost];
  const { server, api, src, dst } = await startServerWithLabHosts(lab1, lab2);
  const idOf = new Map([
    [lab1.name, src.id],
    [lab2.name, dst.id],
  ]);
  try {
    for (const h of hosts) {
      await labExec(h, `pvcreate -q /dev/vda && vgcreate -q ${VG} /dev/vda`);
      await sh(h, `lvcreate -q -y --type thin-pool -L ${2 * LV_MIB}m -n soakpool ${VG}`);
    }
    await sh(
      lab1,
      `lvcreate -q -y -L ${LV_MIB}m -n soakc ${VG} && lvcreate -q -y -V ${LV_MIB}m --thinpool soakpool -n soakt ${VG} && ` +
        `for lv in soakc soakt; do dd if=/dev/urandom of=/dev/${VG}/$lv bs=1M count=${LV_MIB} oflag=direct status=none; done`,
    );
    const before = { lab1: await hostFootprint(lab1), lab2: await hostFootprint(lab2), fds: fdCount(), rss: rssMiB() };
    say(`before: ${JSON.stringify(before)}`);

    // Where each LV lives now; each migration moves one to the other host and drops it at the source.
    const at: Record<string, LabHost> = { soakc: lab1, soakt: lab1 };
    let bytes = 0;
    const outages: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      const lv = i % 2 === 0 ? "soakc" : "soakt";
      const from = at[lv] as LabHost;
      const to = from === lab1 ? lab2 : lab1;
      const device = `/dev/${VG}/${lv}`;
      await sh(from, `bf-workload start ${device} 128 >/dev/null`);
      const t0 = Date.now();
      const job = await api.createMigration({
        source: { hostId: idOf.get(from.name) ?? 0, vg: VG, lv },
        target: { hostId: idOf.get(to.name) ?? 0, vg: VG, ...(lv === "soakt" ? { thinPool: "soakpool" } : {}) },
        vm: { controller: "commands", stopSource: "bf-workload stop", startTarget: "true" },
        cutover: "auto",
        options: { snapshotSizeBytes: LV_MIB * MIB },
      });
      const done = await api.waitFor(job.id, (m) => m.state === "succeeded", 900_000);
      const [a, b] = [await sha256(from, device), await sha256(to, device)];
      if (a !== b) throw new Error(`migration ${i + 1} (${lv} ${from.name} -> ${to.name}): sha256 differs`);
      await sh(from, `lvremove -q -y ${VG}/${lv}`);
      at[lv] = to;
      bytes += LV_MIB * MIB;
      outages.push(done.outageMs ?? 0);
      say(
        `${i + 1}/${COUNT} ${lv} ${from.name} -> ${to.name}: ${Math.round((Date.now() - t0) / 1000)} s, ` +
          `outage ${done.outageMs} ms, sha256 equal; fds ${fdCount()}, rss ${rssMiB()} MiB`,
      );
    }

    const after = { lab1: await hostFootprint(lab1), lab2: await hostFootprint(lab2), fds: fdCount(), rss: rssMiB() };
    say(`after: ${JSON.stringify(after)}`);
    const leaks = (["lab1", "lab2"] as const).flatMap((h) => {
      const [x, y] = [before[h], after[h]];
      return [
        ...y.snapshots.map((s) => `${h}: snapshot ${s}`),
        ...y.processes.map((p) => `${h}: process ${p}`),
        ...(y.taggedLvs.length > 0 ? [`${h}: tagged LVs ${y.taggedLvs.join(", ")}`] : []),
        ...(y.keyLines > x.keyLines ? [`${h}: ${y.keyLines - x.keyLines} key lines`] : []),
        ...(y.sshSessions > x.sshSessions + 1 ? [`${h}: ssh sessions ${x.sshSessions} -> ${y.sshSessions}`] : []),
      ];
    });
    const sorted = [...outages].sort((x, y) => x - y);
    console.log(
      JSON.stringify({
        migrations: COUNT,
        bytes,
        leaks,
        fds: { first: before.fds, last: after.fds },
        rssMiB: { first: before.rss, last: after.rss },
        outageMs: { median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) },
        seconds: Math.round((Date.now() - started) / 1000),
      }),
    );
    if (leaks.length > 0) process.exitCode = 1;
  } finally {
    await server.close();
    await shutdownLab({ dir, wipe: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

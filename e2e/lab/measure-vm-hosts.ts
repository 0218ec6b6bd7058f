// Measures what VM hosts cost against plain ones: boot to ready (sshd, vg0), memory (qemu RSS), and the CPU an idle
// host burns (libvirtd in it). Run: `tsx e2e/lab/measure-vm-hosts.ts [rounds]`; prints one JSON line per boot.
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { bootLab, labExec, shutdownLab } from "./harness.ts";
import { repoRoot } from "./paths.ts";

const rounds = Number(process.argv[2] ?? 1);
const ticks = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return Number(f[11]) + Number(f[12]);
};
const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

for (let round = 0; round < rounds; round++) {
  for (const vm of [false, true]) {
    const dir = await mkdtemp(join(repoRoot, ".lab", "measure-"));
    try {
      const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
      const t0 = Date.now();
      const hosts = await bootLab(2, { dir, fresh: true, vm });
      await Promise.all(hosts.map((h) => labExec(h, "pvcreate -q /dev/vda && vgcreate -q vg0 /dev/vda")));
      const readyS = (Date.now() - t0) / 1000;
      const pids = hosts.map((h) => Number(readFileSync(join(dir, h.name, "qemu.pid"), "utf8")));
      const before = pids.map(ticks);
      await new Promise((r) => setTimeout(r, 20_000));
      const idleCpuPercent = pids.map((p, i) => (ticks(p) - (before[i] ?? 0)) / 20); // 100 ticks/s over 20 s, in %
      const [first] = hosts;
      if (!first) throw new Error("no lab host booted");
      const mem = await labExec(first, "free -m | awk '/Mem:/ {print $3}'");
      console.log(
        JSON.stringify({
          vm,
          loadAtStart: Number(load),
          readyS,
          qemuRssMiB: pids.map((p) => Math.round(rssMiB(p))),
          guestUsedMiB: Number(mem.stdout.trim()),
          idleCpuPercent,
        }),
      );
    } finally {
      await shutdownLab({ dir, wipe: true });
      await rm(dir, { recursive: true, force: true });
    }
  }
}

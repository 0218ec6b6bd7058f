// Vitest globalSetup for the "lab" project: boots the lab hosts once for all lab test files.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { ensurePackages, ensureVmPackages } from "./apt.ts";
import { bootLab, type LabHost, labExec, shutdownLab, startWatchdog } from "./harness.ts";
import { hostDir, isHostProcess } from "./host.ts";
import { buildImage } from "./initramfs.ts";
import { labPairCount } from "./pair-count.ts";
import { cacheDir, repoRoot } from "./paths.ts";
import { buildVmImage } from "./vm/image.ts";

/** One pair of hosts and its lab directory. Every host has an empty volume group `vg0` on /dev/vda. */
export interface LabContext {
  hosts: LabHost[];
  dir: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    /** One host set per lab fork (`labPair()` picks this fork's): files on different forks never share a host. */
    labPairs: LabContext[];
    /** Whether the hosts run libvirtd and can run lab VMs (vmHostsWanted). */
    labVmHosts: boolean;
  }
}

/** Lab test files that run libvirt VMs: a run with one of them boots VM hosts. */
const VM_TEST_FILES = ["e2e/tests/migration-vm.test.ts"];

/**
 * VM hosts (libvirtd, qemu, 1 GiB) when the run holds a VM test file, else the plain image: a developer's run of
 * other lab files boots as before. BF_LAB_VM=1 forces VM hosts (lab-vm.test.ts opts in with it), BF_LAB_VM=0 plain
 * ones (the VM tests then skip). Figures in e2e/lab/README.md, "libvirt VMs".
 */
function vmHostsWanted(project: TestProject): boolean {
  if (process.env.BF_LAB_VM === "1") return true;
  if (process.env.BF_LAB_VM === "0") return false;
  // The files of this run (Vitest collects them before global setup runs).
  const files = project.vitest.state.getPaths();
  return files.some((file) => VM_TEST_FILES.some((vmFile) => file.endsWith(`/${vmFile}`)));
}

const runsDir = join(repoRoot, ".lab");
const runPrefix = "run-";

function ownerAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Kills this run's qemu processes (of every pair) at once; safe to call from an `exit` handler (synchronous). */
function killHostsNow(dir: string): void {
  if (!existsSync(dir)) return;
  for (const pair of readdirSync(dir).filter((entry) => /^pair\d+$/.test(entry))) killHostsNow(join(dir, pair));
  for (const name of readdirSync(dir).filter((entry) => /^lab\d+$/.test(entry))) {
    const pidFile = join(hostDir(dir, name), "qemu.pid");
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, "utf8"));
    if (isHostProcess(pid, hostDir(dir, name))) process.kill(pid, "SIGKILL");
  }
}

/** Labs of earlier runs whose Vitest died without teardown (their watchdog normally cleans up). */
function reapAbandonedRuns(): void {
  if (!existsSync(runsDir)) return;
  for (const entry of readdirSync(runsDir).filter((name) => name.startsWith(runPrefix))) {
    const owner = Number(entry.slice(runPrefix.length));
    if (Number.isInteger(owner) && ownerAlive(owner)) continue;
    killHostsNow(join(runsDir, entry));
    rmSync(join(runsDir, entry), { recursive: true, force: true });
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const count = Number(process.env.BLOCKFERRY_LAB_HOSTS ?? 2);
  const pairs = labPairCount();
  // One directory per Vitest process: engineers sharing a work tree can run lab tests at the same time.
  const dir = join(runsDir, `${runPrefix}${process.pid}`);
  const pairDirs = Array.from({ length: pairs }, (_, i) => join(dir, `pair${i + 1}`));
  reapAbandonedRuns();
  const watchdogs = pairDirs.map((pairDir) => startWatchdog(pairDir, process.pid));
  const onExit = () => killHostsNow(dir);
  const onSignal = (signal: NodeJS.Signals) => {
    killHostsNow(dir);
    // Our listener replaced Node's default: if nobody else handles the signal, exit as the default would.
    if (process.listenerCount(signal) === 1) process.exit(130);
  };
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const teardown = async () => {
    try {
      await Promise.all(pairDirs.map((pairDir) => shutdownLab({ dir: pairDir, wipe: true })));
    } finally {
      killHostsNow(dir);
      rmSync(dir, { recursive: true, force: true });
      process.off("exit", onExit);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      for (const watchdog of watchdogs) {
        try {
          process.kill(watchdog, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  };

  try {
    const started = Date.now();
    const vm = vmHostsWanted(project);
    // Packages and the image once, before the pairs boot side by side from the cache.
    const setupLog = (line: string) => process.stderr.write(`lab: ${line}\n`);
    await ensurePackages(setupLog);
    if (vm) {
      await ensureVmPackages(setupLog);
      await buildVmImage(cacheDir(), setupLog);
    } else await buildImage(cacheDir(), setupLog);
    const labPairs = await Promise.all(
      pairDirs.map(async (pairDir, i) => {
        const log = (line: string) => process.stderr.write(`lab pair${i + 1}: ${line}\n`);
        const hosts = await bootLab(count, { dir: pairDir, fresh: true, log, vm });
        await Promise.all(hosts.map((host) => labExec(host, "pvcreate -q /dev/vda && vgcreate -q vg0 /dev/vda")));
        return { hosts, dir: pairDir };
      }),
    );
    process.stderr.write(
      `lab: ${pairs} x ${count} ${vm ? "VM " : ""}hosts with vg0 ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    project.provide("labPairs", labPairs);
    project.provide("labVmHosts", vm);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}

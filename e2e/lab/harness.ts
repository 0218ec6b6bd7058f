import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ensurePackages, ensureVmPackages } from "./apt.ts";
import {
  clientKeyPath,
  freePort,
  freeUdpPort,
  hostDir,
  hostKeyPath,
  hostMemoryMiB,
  isHostProcess,
  isPortFree,
  isUdpPortFree,
  knownHostsPath,
  type PrivateLink,
  prepareHost,
  qemuArgv,
  qmpSocketPath,
  readHostRecord,
  replaceHostKey,
  startHost,
  stopHost,
} from "./host.ts";
import { buildImage } from "./initramfs.ts";
import { ensureKey, fingerprintSha256, readPublicKey } from "./keys.ts";
import { cacheDir, defaultLabDir } from "./paths.ts";
import { qmp } from "./qmp.ts";
import type { RunResult } from "./run.ts";
import { closeConnection, type ExecOptions, sshExec } from "./ssh.ts";
import { buildVmImage } from "./vm/image.ts";

export type { ExecOptions } from "./ssh.ts";
export { LabExecError } from "./ssh.ts";

/** A booted lab host, as tests and the product's host form need it. Plain data: it crosses Vitest's provide/inject. */
export interface LabHost {
  name: string;
  address: "127.0.0.1";
  port: number;
  user: "root";
  privateKeyPath: string;
  privateKey: string;
  /** "SHA256:..." exactly as `ssh-keygen -l` prints it. */
  hostKeyFingerprintSha256: string;
  /** "ssh-ed25519 AAAA..." */
  hostPublicKey: string;
  knownHostsPath: string;
  /** The host's address on the private lab link (where its peer reaches it; the server cannot), if it has one. */
  privateAddress?: string;
  /** The lab directory the host belongs to (reboot and rekey need it). */
  labDir: string;
  pid: number;
}

export interface BootOptions {
  /** Lab state directory; default `<repo>/.lab` or BLOCKFERRY_LAB_DIR. */
  dir?: string;
  /** Start from empty PV disks (and stop any running hosts of this lab first). */
  fresh?: boolean;
  log?: (line: string) => void;
  /** Boot the VM image: libvirtd and qemu inside each host, more memory (see vm/image.ts). Default false. */
  vm?: boolean;
}

export const hostName = (index: number) => `lab${index}`;

/** Boots lab1..labN in parallel; hosts already running in this lab are kept. Returns all N hosts. */
export async function bootLab(count: number, options: BootOptions = {}): Promise<LabHost[]> {
  if (!Number.isInteger(count) || count < 1 || count > 16)
    throw new Error(`lab host count must be 1..16, not ${count}`);
  const labDir = options.dir ?? defaultLabDir();
  const log = options.log ?? (() => {});
  await ensurePackages(log);
  if (options.vm) await ensureVmPackages(log);
  const image = options.vm ? await buildVmImage(cacheDir(), log) : await buildImage(cacheDir(), log);
  const memory = options.vm ? hostMemoryMiB.vm : hostMemoryMiB.default;
  await mkdir(labDir, { recursive: true });
  await ensureKey(clientKeyPath(labDir), "blockferry-lab-client");
  const names = Array.from({ length: count }, (_, i) => hostName(i + 1));
  if (options.fresh) await Promise.all(names.map((name) => stopHost(labDir, name)));
  const links = await planLinks(labDir, names);
  await Promise.all(
    names.map(async (name) => {
      if (!options.fresh && isRunning(labDir, name)) {
        const runsVmImage = readHostRecord(labDir, name)?.argv.some((arg) => arg.includes("/vm-images/")) ?? false;
        if (runsVmImage !== (options.vm ?? false))
          throw new Error(
            `${name} runs ${runsVmImage ? "the VM" : "the default"} image: stop it first (pnpm lab down)`,
          );
        return;
      }
      await prepareHost(labDir, name, options.fresh ?? false);
      const started = Date.now();
      const link = links.get(name);
      await startWithFreePort(labDir, name, link?.localPort, (port) =>
        qemuArgv(labDir, name, image, port, { memoryMiB: memory, link }),
      );
      log(`${name} up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }),
  );
  return Promise.all(names.map((name) => labHost(labDir, name)));
}

/**
 * Keeps the host's previous port when it is still free (users add lab hosts to Blockferry by port), else picks one.
 * A port can be taken between picking and qemu binding it: try a few.
 */
async function startWithFreePort(
  labDir: string,
  name: string,
  linkPort: number | undefined,
  argvFor: (port: number) => string[],
): Promise<void> {
  const previous = readHostRecord(labDir, name)?.port;
  for (let attempt = 1; ; attempt++) {
    const port = attempt === 1 && previous && (await isPortFree(previous)) ? previous : await freePort();
    try {
      await startHost(labDir, name, argvFor(port), port, linkPort);
      return;
    } catch (error) {
      const portTaken = error instanceof Error && /host forwarding rule|Address already in use/i.test(error.message);
      if (!portTaken || attempt >= 3) throw error;
    }
  }
}

/**
 * The private link's UDP ports for hosts in pairs (lab1-lab2, lab3-lab4; an odd last host has none). A running
 * host keeps its port (its qemu is bound to it), as does a stopped one whose port is still free.
 */
async function planLinks(labDir: string, names: readonly string[]): Promise<Map<string, PrivateLink>> {
  const ports = new Map<string, number>();
  for (const name of names) {
    const previous = readHostRecord(labDir, name)?.linkPort;
    const keep = previous && (isRunning(labDir, name) || (await isUdpPortFree(previous)));
    ports.set(name, keep ? previous : await freeUdpPort());
  }
  const links = new Map<string, PrivateLink>();
  for (let i = 0; i + 1 < names.length; i += 2) {
    const [a, b] = [names[i], names[i + 1]] as [string, string];
    const [portA, portB] = [ports.get(a), ports.get(b)] as [number, number];
    links.set(a, { localPort: portA, peerPort: portB, index: i + 1 });
    links.set(b, { localPort: portB, peerPort: portA, index: i + 2 });
  }
  return links;
}

function isRunning(labDir: string, name: string): boolean {
  const record = readHostRecord(labDir, name);
  return record !== undefined && isHostProcess(record.pid, hostDir(labDir, name));
}

/** Names of the hosts a lab directory knows, lab1 first. */
export async function labHostNames(labDir: string = defaultLabDir()): Promise<string[]> {
  if (!existsSync(labDir)) return [];
  const names = (await readdir(labDir)).filter((name) => /^lab\d+$/.test(name) && readHostRecord(labDir, name));
  return names.sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
}

export interface HostStatus {
  name: string;
  port: number;
  pid: number;
  running: boolean;
}

export async function labStatus(labDir: string = defaultLabDir()): Promise<HostStatus[]> {
  return (await labHostNames(labDir)).map((name) => {
    const record = readHostRecord(labDir, name);
    if (!record) throw new Error(`${name}: no host record`);
    return { name, port: record.port, pid: record.pid, running: isRunning(labDir, name) };
  });
}

/** Host info for a host of a lab (running or not). */
export async function labHost(labDir: string, name: string): Promise<LabHost> {
  const record = readHostRecord(labDir, name);
  if (!record) throw new Error(`${name} is not a host of the lab in ${labDir}`);
  const hostPublicKey = await readPublicKey(`${hostKeyPath(labDir, name)}.pub`);
  return {
    name,
    address: "127.0.0.1",
    port: record.port,
    user: "root",
    privateKeyPath: clientKeyPath(labDir),
    privateKey: readFileSync(clientKeyPath(labDir), "utf8"),
    hostKeyFingerprintSha256: fingerprintSha256(hostPublicKey),
    hostPublicKey,
    knownHostsPath: knownHostsPath(labDir, name),
    ...linkAddress(record.argv),
    labDir,
    pid: record.pid,
  };
}

/** The private address the host booted with (its kernel command line carries it). */
function linkAddress(argv: readonly string[]): { privateAddress?: string } {
  const address = /\bbf_link=([\d.]+)\//.exec(argv.join(" "))?.[1];
  return address ? { privateAddress: address } : {};
}

/** Stops every host of the lab; `wipe` also deletes its disks and keys. */
export async function shutdownLab(options: { dir?: string; wipe?: boolean } = {}): Promise<void> {
  const labDir = options.dir ?? defaultLabDir();
  await Promise.all(
    (await labHostNames(labDir)).map(async (name) => {
      await closeConnection(await labHost(labDir, name));
      await stopHost(labDir, name);
    }),
  );
  if (options.wipe) {
    // Only this lab's own files: `.lab/` also holds the directories of Vitest runs going on right now.
    for (const name of await labHostNames(labDir)) await rm(hostDir(labDir, name), { recursive: true, force: true });
    for (const file of [clientKeyPath(labDir), `${clientKeyPath(labDir)}.pub`]) await rm(file, { force: true });
    await rmdir(labDir).catch(() => undefined); // when nothing else is left
  }
}

/** Runs a shell command line as root on a lab host; throws LabExecError on a non-zero exit unless allowFailure. */
export function labExec(host: LabHost, command: string, options?: ExecOptions): Promise<RunResult> {
  return sshExec(host, command, options);
}

/**
 * Restarts a host's qemu with the same disks, port and keys. A clean reboot syncs the guest first;
 * `hard` pulls the plug (what the guest had not flushed to its disk is lost, as on a real power cut).
 */
export async function rebootHost(host: LabHost, options: { hard?: boolean } = {}): Promise<LabHost> {
  const record = readHostRecord(host.labDir, host.name);
  if (!record) throw new Error(`${host.name} is not a host of the lab in ${host.labDir}`);
  if (!options.hard && isRunning(host.labDir, host.name)) {
    await labExec(host, "sync", { timeoutMs: 30_000, allowFailure: true }).catch(() => undefined);
  }
  await closeConnection(host);
  if (options.hard && isRunning(host.labDir, host.name)) process.kill(record.pid, "SIGKILL");
  await stopHost(host.labDir, host.name);
  await startHost(host.labDir, host.name, record.argv, record.port, record.linkPort);
  return labHost(host.labDir, host.name);
}

/** Pulls the plug and leaves the host off, as a hypervisor that died, until `powerOnHost`. */
export async function powerOffHost(host: LabHost): Promise<void> {
  const record = readHostRecord(host.labDir, host.name);
  if (!record) throw new Error(`${host.name} is not a host of the lab in ${host.labDir}`);
  await closeConnection(host);
  if (isRunning(host.labDir, host.name)) process.kill(record.pid, "SIGKILL");
  await stopHost(host.labDir, host.name);
}

/**
 * Pulls (up: false) or plugs back (up: true) one of the host's network cables: QMP set_link on its NIC to the
 * server ("server", n0) or on its private link to its peer host ("private", n1). Its TCP peers see nothing (no
 * reset), as with a dead switch port.
 */
export async function setHostLink(host: LabHost, up: boolean, cable: "server" | "private" = "server"): Promise<void> {
  await qmp(qmpSocketPath(hostDir(host.labDir, host.name)), [
    { execute: "qmp_capabilities" },
    { execute: "set_link", arguments: { name: cable === "server" ? "n0" : "n1", up } },
  ]);
}

/** Boots a host that is off (same disks, port and keys); a running one is left as it is. */
export async function powerOnHost(host: LabHost): Promise<LabHost> {
  const record = readHostRecord(host.labDir, host.name);
  if (!record) throw new Error(`${host.name} is not a host of the lab in ${host.labDir}`);
  if (!isRunning(host.labDir, host.name))
    await startHost(host.labDir, host.name, record.argv, record.port, record.linkPort);
  return labHost(host.labDir, host.name);
}

/**
 * Gives the host a new SSH host key (for host-key pinning tests) and re-pins the lab's known_hosts to it.
 * By default the key is installed live and sshd restarted (a few seconds); `reboot` boots into it instead.
 * Either way the new key is on the config disk, so it survives later reboots.
 */
export async function rekeyHost(host: LabHost, options: { reboot?: boolean } = {}): Promise<LabHost> {
  const oldPin = await mkdtemp(join(tmpdir(), "bf-lab-rekey-"));
  try {
    const oldKnownHosts = join(oldPin, "known_hosts");
    await copyFile(host.knownHostsPath, oldKnownHosts);
    await replaceHostKey(host.labDir, host.name);
    const fresh = await labHost(host.labDir, host.name);
    if (fresh.hostPublicKey === host.hostPublicKey) throw new Error(`${host.name}: rekey produced the same host key`);
    if (options.reboot) return await rebootHost(fresh);

    // Install over a connection still pinned to the old key, then restart sshd (init respawns it).
    const install = [
      "umask 077",
      "cat >/etc/ssh/ssh_host_ed25519_key.new",
      "mv /etc/ssh/ssh_host_ed25519_key.new /etc/ssh/ssh_host_ed25519_key",
      `echo '${fresh.hostPublicKey}' >/etc/ssh/ssh_host_ed25519_key.pub`,
      "kill $(cat /run/sshd.pid)",
    ].join(" && ");
    const privateKey = await readFile(hostKeyPath(host.labDir, host.name));
    await sshExec({ ...host, knownHostsPath: oldKnownHosts }, install, { input: privateKey, multiplex: false });
    await closeConnection(host);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const probe = await sshExec(fresh, "true", { allowFailure: true, multiplex: false }).catch(() => undefined);
      if (probe?.code === 0) return fresh;
      if (Date.now() > deadline) throw new Error(`${host.name}: sshd did not come back with the new host key`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await rm(oldPin, { recursive: true, force: true });
  }
}

/**
 * Kills the lab's qemu processes when process `ownerPid` dies, whatever the reason (SIGKILL included),
 * then deletes the lab directory. Returns the watchdog's pid.
 */
export function startWatchdog(labDir: string, ownerPid: number): number {
  const script = `
    while kill -0 "$1" 2>/dev/null; do sleep 1; done
    for f in "$2"/lab*/qemu.pid; do
      [ -f "$f" ] || continue
      p=$(cat "$f")
      grep -q "$2" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"
    done
    rm -rf "$2"`;
  const child = spawn("sh", ["-c", script, "lab-watchdog", String(ownerPid), labDir], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  if (child.pid === undefined) throw new Error("could not start the lab watchdog");
  return child.pid;
}

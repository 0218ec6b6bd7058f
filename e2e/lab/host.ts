import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import type { LabImage } from "./initramfs.ts";
import { ensureKey, readPublicKey } from "./keys.ts";
import { run } from "./run.ts";

/** What a lab keeps on disk about one host (in `<labDir>/<name>/host.json`). */
export interface HostRecord {
  name: string;
  port: number;
  pid: number;
  argv: string[];
  /** The host's end of the private lab link (a UDP port on 127.0.0.1), when it has a peer. */
  linkPort?: number;
}

/**
 * The private lab link: hosts in pairs (lab1-lab2, lab3-lab4, ...) joined by a qemu UDP socket network on a
 * second NIC, so they reach each other at an address the server does not use (the server reaches them through
 * hostfwd on 127.0.0.1 only).
 */
export interface PrivateLink {
  /** This host's UDP port on 127.0.0.1 and its peer's. */
  localPort: number;
  peerPort: number;
  /** The guest's index (lab1 is 1): its MAC and its private address derive from it. */
  index: number;
}

/** labN's address on the private link. */
export const privateAddress = (index: number) => `10.77.0.${index}`;

export const pvSizeBytes = 2 * 1024 ** 3;
const qemu = "qemu-system-x86_64";

export const hostDir = (labDir: string, name: string) => join(labDir, name);
export const clientKeyPath = (labDir: string) => join(labDir, "client_ed25519");
export const hostKeyPath = (labDir: string, name: string) => join(hostDir(labDir, name), "ssh_host_ed25519_key");
export const knownHostsPath = (labDir: string, name: string) => join(hostDir(labDir, name), "known_hosts");

export function readHostRecord(labDir: string, name: string): HostRecord | undefined {
  const file = join(hostDir(labDir, name), "host.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as HostRecord;
}

async function writeHostRecord(labDir: string, record: HostRecord): Promise<void> {
  const dir = hostDir(labDir, record.name);
  await writeFile(join(dir, "host.json"), `${JSON.stringify(record, null, 2)}\n`);
  await writeFile(join(dir, "qemu.pid"), `${record.pid}\n`); // plain pid for the shell watchdog
}

/** True when `pid` is a qemu process started for this host directory (guards against reused pids). */
export function isHostProcess(pid: number, dir: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes(qemu) && cmdline.includes(dir);
  } catch {
    return false;
  }
}

export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

/** Disk, host key, and the read-only config disk the guest unpacks at boot. `fresh` starts from an empty PV. */
export async function prepareHost(labDir: string, name: string, fresh: boolean): Promise<void> {
  const dir = hostDir(labDir, name);
  await mkdir(dir, { recursive: true });
  const pv = join(dir, "pv.img");
  if (fresh || !existsSync(pv)) {
    const handle = await open(pv, "w");
    await handle.truncate(pvSizeBytes); // sparse: only what LVM writes takes space
    await handle.close();
  }
  await ensureKey(hostKeyPath(labDir, name), `${name}-host`);
  await writeConfigDisk(labDir, name);
}

/** A new host key for the next boot; the caller reboots the host and re-pins it. */
export async function replaceHostKey(labDir: string, name: string): Promise<void> {
  await ensureKey(hostKeyPath(labDir, name), `${name}-host`, true);
  await writeConfigDisk(labDir, name);
}

/** A free UDP port on 127.0.0.1 (for the private link's socket network). */
export async function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket("udp4");
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

export function isUdpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket("udp4");
    socket.once("error", () => resolve(false));
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });
}

/** Tar of /etc/hostname, the host key pair and root's authorized key: the guest runs `tar -xf /dev/vdb -C /`. */
async function writeConfigDisk(labDir: string, name: string): Promise<void> {
  const dir = hostDir(labDir, name);
  const staging = await mkdtemp(join(dir, ".config-"));
  try {
    await mkdir(join(staging, "etc/ssh"), { recursive: true });
    await mkdir(join(staging, "root/.ssh"), { recursive: true, mode: 0o700 });
    await chmod(join(staging, "root"), 0o700);
    await writeFile(join(staging, "etc/hostname"), `${name}\n`);
    await copyFile(hostKeyPath(labDir, name), join(staging, "etc/ssh/ssh_host_ed25519_key"));
    await chmod(join(staging, "etc/ssh/ssh_host_ed25519_key"), 0o600);
    await copyFile(`${hostKeyPath(labDir, name)}.pub`, join(staging, "etc/ssh/ssh_host_ed25519_key.pub"));
    await copyFile(`${clientKeyPath(labDir)}.pub`, join(staging, "root/.ssh/authorized_keys"));
    await chmod(join(staging, "root/.ssh/authorized_keys"), 0o600);
    await run("tar", [
      "-cf",
      join(dir, "config.tar"),
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-C",
      staging,
      "etc",
      "root",
    ]);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  await pinHostKey(labDir, name);
}

/** known_hosts for this host alone, holding the key the config disk hands it. */
async function pinHostKey(labDir: string, name: string): Promise<void> {
  const record = readHostRecord(labDir, name);
  const key = await readPublicKey(`${hostKeyPath(labDir, name)}.pub`);
  const port = record?.port;
  if (port) await writeFile(knownHostsPath(labDir, name), `[127.0.0.1]:${port} ${key}\n`);
}

/** The host's QMP socket (see qemuArgv). */
export const qmpSocketPath = (hostDirectory: string) => join(hostDirectory, "qmp.sock");

/** Guest memory of a lab host; VM hosts need more for their bigger initramfs, libvirtd and a nested qemu. */
export const hostMemoryMiB = { default: 768, vm: 1024 } as const;

export function qemuArgv(
  labDir: string,
  name: string,
  image: LabImage,
  port: number,
  options: { memoryMiB?: number; link?: PrivateLink } = {},
): string[] {
  const { memoryMiB = hostMemoryMiB.default, link } = options;
  const dir = hostDir(labDir, name);
  // A unicast UDP pair rather than socket listen/connect: either side may boot (or reboot) first.
  const linkArgs = link
    ? [
        "-netdev",
        `dgram,id=n1,local.type=inet,local.host=127.0.0.1,local.port=${link.localPort},remote.type=inet,remote.host=127.0.0.1,remote.port=${link.peerPort}`,
        "-device",
        // Both guests' second NIC would get qemu's same default MAC: one L2 segment needs distinct ones.
        `virtio-net-pci,netdev=n1,mac=52:54:00:77:00:${link.index.toString(16).padStart(2, "0")}`,
      ]
    : [];
  return [
    "-name",
    name,
    "-accel",
    "tcg", // KVM hangs on these machines: TCG only
    "-m",
    String(memoryMiB),
    "-smp",
    "1",
    "-display",
    "none",
    "-monitor",
    "none",
    // QMP, for faults a test injects from outside the guest (set_link: the network cable pulled).
    "-qmp",
    `unix:${qmpSocketPath(dir)},server=on,wait=off`,
    "-serial",
    `file:${join(dir, "console.log")}`,
    "-no-reboot",
    "-kernel",
    image.vmlinuz,
    "-initrd",
    image.initrd,
    "-append",
    // bf_link: the guest's address on the private link (rcS reads it from /proc/cmdline).
    `console=ttyS0 quiet panic=-1 acpi=noirq pci=nomsi${link ? ` bf_link=${privateAddress(link.index)}/24` : ""}`,
    "-drive",
    `file=${join(dir, "pv.img")},if=virtio,format=raw,cache=unsafe`,
    "-drive",
    `file=${join(dir, "config.tar")},if=virtio,format=raw,readonly=on`,
    "-netdev",
    `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`,
    "-device",
    "virtio-net-pci,netdev=n0",
    ...linkArgs,
    "-device",
    "virtio-rng-pci",
  ];
}

/** Starts qemu detached (it outlives `pnpm lab up`) and waits until sshd answers. */
export async function startHost(
  labDir: string,
  name: string,
  argv: string[],
  port: number,
  linkPort?: number,
  timeoutMs = 120_000,
): Promise<HostRecord> {
  const dir = hostDir(labDir, name);
  const logFile = join(dir, "qemu.log");
  const log = openSync(logFile, "w");
  const child = spawn(qemu, argv, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not start ${qemu}`);
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const record: HostRecord = { name, port, pid, argv, ...(linkPort ? { linkPort } : {}) };
  await writeHostRecord(labDir, record);
  await pinHostKey(labDir, name);
  const deadline = Date.now() + timeoutMs;
  while (!(await sshBannerAt(port))) {
    if (exited) {
      const output = await readFile(logFile, "utf8").catch(() => "");
      const consoleTail = (await readFile(join(dir, "console.log"), "utf8").catch(() => "")).slice(-1500);
      throw new Error(`${name}: qemu exited during boot: ${output.trim()}\n${consoleTail}`);
    }
    if (Date.now() > deadline) {
      await stopHost(labDir, name);
      throw new Error(`${name}: no sshd on 127.0.0.1:${port} after ${timeoutMs} ms (see ${join(dir, "console.log")})`);
    }
    await sleep(250);
  }
  return record;
}

/** Stops the host's qemu (SIGTERM lets qemu flush its disks; SIGKILL after 5 s). */
export async function stopHost(labDir: string, name: string): Promise<void> {
  const record = readHostRecord(labDir, name);
  if (!record) return;
  const dir = hostDir(labDir, name);
  if (isHostProcess(record.pid, dir)) {
    process.kill(record.pid, "SIGTERM");
    const deadline = Date.now() + 5000;
    while (isHostProcess(record.pid, dir) && Date.now() < deadline) await sleep(50);
    if (isHostProcess(record.pid, dir)) process.kill(record.pid, "SIGKILL");
    while (isHostProcess(record.pid, dir) && !isZombie(record.pid)) await sleep(20);
  }
}

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

/** slirp accepts connections before the guest listens; only an "SSH-" banner means sshd is up. */
function sshBannerAt(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    // Under TCG on a busy machine sshd may need seconds to answer: hanging up early only spawns more work for it.
    socket.setTimeout(15_000, () => done(false));
    socket.once("data", (data: Buffer) => done(data.toString("latin1").startsWith("SSH-")));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The lab VM's bare-metal guest (vm/guest/) booted by qemu on this machine, one TCG level instead of nested in a
// lab host: proves the writer, the check, the ACPI power-off and torn-record detection in seconds, under SeaBIOS
// and under qboot. The libvirt path itself is lab-vm.test.ts.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheDir } from "../paths.ts";
import { qmp } from "../qmp.ts";
import { vmCmdline } from "../vm/domain.ts";
import { buildVmImage, type VmImage } from "../vm/image.ts";
import type { VmCheck } from "../vm/vm.ts";

const id = "0123456789abcdef";
const ringStart = 1024 * 1024;
const recordBytes = 4096;
/** The guest's ring when bf.slots does not say otherwise. */
const slots = 256;

let dir: string;
let image: VmImage;
let qemu: ChildProcess | undefined;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Boots the guest on the two disk files; resolves once this boot flushed its first record. */
async function boot(firmware: "seabios" | "qboot"): Promise<void> {
  const consoleLog = join(dir, "console.log");
  await rm(consoleLog, { force: true });
  for (const socket of ["check.sock", "qmp.sock"]) await rm(join(dir, socket), { force: true });
  const argv = [
    ...["-accel", "tcg", "-m", "16", "-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults"],
    ...(firmware === "qboot" ? ["-bios", "/usr/share/qemu/qboot.rom"] : []),
    ...["-serial", `file:${consoleLog}`, "-serial", `unix:${join(dir, "check.sock")},server=on,wait=off`],
    ...["-kernel", image.vmKernel, "-append", vmCmdline({ disks: 2, rate: 20 }, id)],
    ...[0, 1].flatMap((disk) => ["-drive", `file=${join(dir, `disk${disk}.img`)},if=ide,index=${disk},format=raw`]),
    ...["-qmp", `unix:${join(dir, "qmp.sock")},server=on,wait=off`],
  ];
  qemu = spawn("qemu-system-x86_64", argv, { stdio: "ignore" });
  await until("first record", async () => {
    if (qemu?.exitCode !== null) throw new Error(`qemu exited: ${await readFile(consoleLog, "utf8").catch(() => "")}`);
    const text = await readFile(consoleLog, "utf8").catch(() => "");
    return text.includes("bf-vm: first record written") ? true : undefined;
  });
}

/** `check` over the guest's second serial port, as bf-vm-check does it inside a lab host. */
function check(): Promise<VmCheck> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(dir, "check.sock"));
    let answer = "";
    socket.setTimeout(60_000, () => socket.destroy(new Error("no check answer in 60 s")));
    socket.on("connect", () => socket.write("check\n"));
    socket.on("data", (data) => {
      answer += data.toString();
      const line = answer.split("\n")[0];
      if (answer.includes("\n") && line !== undefined) {
        socket.destroy();
        resolve(JSON.parse(line) as VmCheck);
      }
    });
    socket.on("error", reject);
  });
}

/** The highest seq in a disk file's ring, read from the records' headers. */
async function lastSeqOnDisk(file: string): Promise<number> {
  const ring = Buffer.alloc(slots * recordBytes);
  const handle = await open(file, "r");
  await handle.read(ring, 0, ring.length, ringStart);
  await handle.close();
  let last = 0;
  for (let slot = 0; slot < slots; slot++) {
    const record = ring.subarray(slot * recordBytes);
    if (record.toString("latin1", 0, 8) === "BFVMREC1") last = Math.max(last, Number(record.readBigUInt64LE(24)));
  }
  return last;
}

const exited = () =>
  new Promise<number | null>((resolve) =>
    qemu?.exitCode !== null ? resolve(qemu?.exitCode ?? null) : qemu.once("exit", (code) => resolve(code)),
  );

beforeAll(async () => {
  image = await buildVmImage(cacheDir());
  dir = await mkdtemp(join(tmpdir(), "bf-vm-guest-"));
  for (const disk of [0, 1]) {
    const handle = await open(join(dir, `disk${disk}.img`), "w");
    await handle.truncate(16 * 1024 * 1024);
    await handle.close();
  }
});

afterAll(async () => {
  if (qemu && qemu.exitCode === null) {
    qemu.kill("SIGKILL");
    await exited();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the lab VM's bare-metal guest", () => {
  it("writes records to every disk, checks them, powers off on ACPI, and finds a damaged record", async () => {
    const started = Date.now();
    await boot("seabios");
    console.log(`guest: first record ${Date.now() - started} ms after qemu started (SeaBIOS)`);
    const first = await check();
    expect(first.ok).toBe(true);
    expect(first.disks.map((disk) => disk.device)).toEqual(["/dev/hda", "/dev/hdb"]);
    const grown = await until("more records", async () => {
      const next = await check();
      return next.disks.every((disk) => disk.lastSeq >= (first.disks[0]?.lastSeq ?? 0) + 5) ? next : undefined;
    });
    expect(grown).toMatchObject({ ok: true });
    expect(grown.disks.map((disk) => disk.torn)).toEqual([0, 0]);

    // The ACPI power button (what virsh shutdown presses): the guest stops writing and powers off.
    await qmp(join(dir, "qmp.sock"), [{ execute: "qmp_capabilities" }, { execute: "system_powerdown" }]);
    expect(await exited()).toBe(0);
    expect(await readFile(join(dir, "console.log"), "utf8")).toContain("bf-vm: powering off");

    // Damage a record of the second disk behind the guest's back, a few before its last: the next boot must see it.
    const lastOnDisk1 = await lastSeqOnDisk(join(dir, "disk1.img"));
    expect(lastOnDisk1).toBeGreaterThanOrEqual(grown.disks[1]?.lastSeq ?? Number.POSITIVE_INFINITY);
    const damaged = lastOnDisk1 - 3;
    expect(damaged).toBeGreaterThan(0);
    const handle = await open(join(dir, "disk1.img"), "r+");
    await handle.write(Buffer.from("XXXX"), 0, 4, ringStart + (damaged % slots) * recordBytes + 2000);
    await handle.close();
    const again = Date.now();
    await boot("qboot");
    console.log(`guest: first record ${Date.now() - again} ms after qemu started (qboot)`);
    const after = await check();
    expect(after.ok).toBe(false);
    expect(after.disks.map((disk) => disk.torn)).toEqual([0, 1]);
    // It went on from where it stopped, on both disks.
    for (const disk of after.disks) expect(disk.lastSeq).toBeGreaterThan(lastOnDisk1);
    await qmp(join(dir, "qmp.sock"), [{ execute: "qmp_capabilities" }, { execute: "system_powerdown" }]);
    expect(await exited()).toBe(0);
  }, 300_000);
});

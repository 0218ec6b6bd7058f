import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { packageVersions } from "../apt.ts";
import { buildImage, type LabImage, pruneImages, stageLibrariesOf, writeCpio } from "../initramfs.ts";
import { run } from "../run.ts";

/**
 * Debian packages the VM image takes libvirtd, virsh, qemu and perl from, and the compiler and linker of the test
 * VM (all installed on this machine).
 */
export const vmPackages = [
  "libvirt-daemon",
  "libvirt-daemon-driver-qemu",
  "libvirt-clients",
  "qemu-system-x86",
  "seabios",
  "perl-base",
  "gcc",
  "binutils",
] as const;

/** Where the VM image puts the test VM (a multiboot ELF) inside a lab host. */
export const vmKernelPath = "/usr/share/bf-vm/bf-vm.elf";

const hostFiles = new URL("./host/", import.meta.url);
const guestFiles = new URL("./guest/", import.meta.url);

const libvirtDrivers = "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver";
/** Programs (and dlopen'ed modules) the lab host needs for libvirt with qemu TCG. */
const hostPrograms = [
  "/usr/sbin/libvirtd",
  "/usr/bin/virsh",
  "/usr/bin/qemu-system-x86_64",
  "/usr/bin/perl",
  `${libvirtDrivers}/libvirt_driver_qemu.so`,
  "/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so",
  "/usr/lib/libvirt/libvirt_iohelper",
  "/usr/sbin/dmidecode", // libvirtd asks it for the host's sysinfo at start
];
/** Data qemu and libvirt read: firmware (Debian's qemu also searches /usr/share/seabios), CPU maps, schemas. */
const hostDataDirs = ["/usr/share/qemu", "/usr/share/seabios", "/usr/share/libvirt"];

export interface VmImage extends LabImage {
  /** The test VM (also inside the layer at vmKernelPath), for booting it without a lab host. */
  vmKernel: string;
}

/** The base image plus a layer with libvirt, qemu and the test VM: an initrd that is two concatenated archives. */
export async function buildVmImage(cache: string, log: (line: string) => void = () => {}): Promise<VmImage> {
  const base = await buildImage(cache, log);
  const key = await cacheKey(base);
  const imageDir = join(cache, "vm-images", key);
  const initrd = join(imageDir, "initrd.img");
  const vmKernel = join(imageDir, "bf-vm.elf");
  if (!existsSync(initrd)) {
    const started = Date.now();
    log(`building the VM image ${key}`);
    await mkdir(dirname(imageDir), { recursive: true });
    const work = await mkdtemp(join(dirname(imageDir), ".tmp-"));
    try {
      await mkdir(join(work, "out"));
      await compileGuest(join(work, "guest"), join(work, "out", "bf-vm.elf"));
      const layer = join(work, "layer");
      await stageHostLayer(layer, await archiveNames(base.initrd));
      await mkdir(join(layer, dirname(vmKernelPath)), { recursive: true });
      await copyFile(join(work, "out", "bf-vm.elf"), join(layer, vmKernelPath));
      await writeCpio(layer, join(work, "layer.cpio"));
      await concatenate([base.initrd, join(work, "layer.cpio")], join(work, "out", "initrd.img"));
      await rm(imageDir, { recursive: true, force: true });
      await rename(join(work, "out"), imageDir);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    await pruneImages(dirname(imageDir), key);
    log(`VM image built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return { ...base, initrd, vmKernel };
}

async function cacheKey(base: LabImage): Promise<string> {
  const hash = createHash("sha256");
  hash.update(`base=${base.initrd}\n`); // the base image's path carries its own key
  hash.update(await packageVersions(vmPackages));
  hash.update(await readFile(new URL(import.meta.url)));
  for (const dir of [hostFiles, guestFiles]) {
    for (const name of (await readdir(dir)).sort()) {
      hash.update(name);
      hash.update(await readFile(new URL(name, dir)));
    }
  }
  return hash.digest("hex").slice(0, 16);
}

/** Paths in an archive, as host paths ("/usr/lib/..."), so the layer does not carry a second copy of them. */
async function archiveNames(archive: string): Promise<Set<string>> {
  const { stdout } = await run("sh", ["-c", 'cpio -t --quiet < "$1"', "sh", archive]);
  return new Set(stdout.split("\n").map((name) => `/${name.replace(/^\.\//, "")}`));
}

/** Merged-/usr layout: files copied to /lib/... land in usr/lib like in the base image. */
async function mergedRoot(root: string): Promise<void> {
  for (const dir of ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64"]) await mkdir(join(root, dir), { recursive: true });
  for (const top of ["bin", "sbin", "lib", "lib64"]) await symlink(`usr/${top}`, join(root, top));
}

async function stageHostLayer(root: string, base: Set<string>): Promise<void> {
  await mergedRoot(root);
  // ldd names libraries as /lib/... or /usr/lib/...; the base archive lists them under usr/ only.
  const present = new Set([...base].flatMap((path) => [path, path.replace(/^\/usr\//, "/")]));
  await stageLibrariesOf(root, hostPrograms, present);
  for (const dir of hostDataDirs) {
    await mkdir(join(root, dirname(dir)), { recursive: true });
    await run("cp", ["-rL", dir, join(root, dir)]);
  }
  const place: Array<[string, string, number]> = [
    ["libvirt", "etc/lab/boot.d/libvirt", 0o755],
    ["libvirtd.conf", "etc/libvirt/libvirtd.conf", 0o644],
    ["qemu.conf", "etc/libvirt/qemu.conf", 0o644],
    ["bf-vm-check", "usr/local/bin/bf-vm-check", 0o755],
  ];
  for (const [from, to, mode] of place) {
    await mkdir(dirname(join(root, to)), { recursive: true });
    await copyFile(new URL(from, hostFiles), join(root, to));
    await chmod(join(root, to), mode);
  }
}

/**
 * The test VM from source: freestanding 32-bit C and a multiboot header, linked to an ELF that qemu's -kernel (and
 * libvirt's <kernel>) boots directly. No libc, no libgcc: the guest avoids 64-bit division.
 */
async function compileGuest(work: string, out: string): Promise<void> {
  await mkdir(work);
  const source = (name: string) => fileURLToPath(new URL(name, guestFiles));
  const cflags = ["-m32", "-ffreestanding", "-nostdlib", "-fno-pic", "-fno-pie", "-fno-stack-protector", "-O2"];
  // Without it gcc may turn the guest's own memset loop into a call to memset.
  cflags.push("-fno-tree-loop-distribute-patterns", "-fno-strict-aliasing", "-Wall", "-Wextra", "-Werror");
  await run("gcc", [...cflags, "-c", source("bf-vm.c"), "-o", join(work, "bf-vm.o")]);
  await run("gcc", ["-m32", "-c", source("boot.S"), "-o", join(work, "boot.o")]);
  const ldflags = ["-m", "elf_i386", "--no-warn-rwx-segments", "-T", source("link.ld")];
  await run("ld", [...ldflags, "-o", out, join(work, "boot.o"), join(work, "bf-vm.o")]);
}

async function concatenate(parts: readonly string[], out: string): Promise<void> {
  const sink = createWriteStream(out);
  for (const part of parts) await pipeline(createReadStream(part), sink, { end: false });
  await new Promise<void>((resolve, reject) => sink.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

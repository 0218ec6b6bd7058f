import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { packageVersions } from "../apt.ts";
import { buildImage, type LabImage, pruneImages, stageLibrariesOf, writeCpio } from "../initramfs.ts";
import { fetchKernel } from "../kernel.ts";
import { moduleLoadOrder } from "../modules.ts";
import { run } from "../run.ts";

/** Debian packages the VM image takes libvirtd, virsh, qemu and perl from (installed on this machine). */
export const vmPackages = [
  "libvirt-daemon",
  "libvirt-daemon-driver-qemu",
  "libvirt-clients",
  "qemu-system-x86",
  "seabios",
  "perl-base",
] as const;

/** Kernel modules of the VM inside a lab host: its disks, the check channel and the ACPI power button. */
const innerModules = ["virtio_pci", "virtio_blk", "virtio_console", "evdev", "button"] as const;

/** Where the VM image puts the test VM's kernel and initrd inside a lab host. */
export const vmBootDir = "/usr/share/bf-vm";

const hostFiles = new URL("./host/", import.meta.url);
const innerFiles = new URL("./inner/", import.meta.url);

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
  /** The test VM's own initrd (also inside the layer at vmBootDir), for booting it without a lab host. */
  vmInitrd: string;
}

/** The base image plus a layer with libvirt, qemu and the test VM: an initrd that is two concatenated archives. */
export async function buildVmImage(cache: string, log: (line: string) => void = () => {}): Promise<VmImage> {
  const base = await buildImage(cache, log);
  const key = await cacheKey(base);
  const imageDir = join(cache, "vm-images", key);
  const initrd = join(imageDir, "initrd.img");
  const vmInitrd = join(imageDir, "vm-initrd.img");
  if (!existsSync(initrd)) {
    const started = Date.now();
    log(`building the VM image ${key}`);
    await mkdir(dirname(imageDir), { recursive: true });
    const work = await mkdtemp(join(dirname(imageDir), ".tmp-"));
    try {
      const kernel = await fetchKernel(cache);
      await stageInner(join(work, "inner"), kernel.modulesDir);
      const layer = join(work, "layer");
      await stageHostLayer(layer, await archiveNames(base.initrd));
      await mkdir(join(layer, vmBootDir.slice(1)), { recursive: true });
      await writeCpio(join(work, "inner"), join(layer, vmBootDir.slice(1), "initrd.img"));
      await copyFile(kernel.vmlinuz, join(layer, vmBootDir.slice(1), "vmlinuz"));
      await mkdir(join(work, "out"));
      await writeCpio(layer, join(work, "layer.cpio"));
      await concatenate([base.initrd, join(work, "layer.cpio")], join(work, "out", "initrd.img"));
      await copyFile(join(layer, vmBootDir.slice(1), "initrd.img"), join(work, "out", "vm-initrd.img"));
      await rm(imageDir, { recursive: true, force: true });
      await rename(join(work, "out"), imageDir);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    await pruneImages(dirname(imageDir), key);
    log(`VM image built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return { ...base, initrd, vmInitrd };
}

async function cacheKey(base: LabImage): Promise<string> {
  const hash = createHash("sha256");
  hash.update(`base=${base.initrd}\n`); // the base image's path carries its own key
  hash.update(await packageVersions(vmPackages));
  hash.update(await readFile(new URL(import.meta.url)));
  for (const dir of [hostFiles, innerFiles]) {
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

/** The test VM's initrd: busybox, perl and libc, five modules, and the record writer as PID 1. */
async function stageInner(root: string, modulesDir: string): Promise<void> {
  await mergedRoot(root);
  for (const dir of ["dev", "proc", "sys", "etc"]) await mkdir(join(root, dir), { recursive: true });
  await copyFile("/bin/busybox", join(root, "usr/bin/busybox"));
  await stageLibrariesOf(root, ["/usr/bin/perl"]);
  const order = moduleLoadOrder(
    await readFile(join(modulesDir, "modules.dep"), "utf8"),
    await readFile(join(modulesDir, "modules.builtin"), "utf8").catch(() => ""),
    innerModules,
  );
  for (const path of order) {
    await mkdir(dirname(join(root, "lib/modules", path)), { recursive: true });
    await copyFile(join(modulesDir, path), join(root, "lib/modules", path));
  }
  await writeFile(join(root, "etc/modules-order"), `${order.join("\n")}\n`);
  await copyFile(new URL("init", innerFiles), join(root, "init"));
  await chmod(join(root, "init"), 0o755);
  await copyFile(new URL("bf-vm.pl", innerFiles), join(root, "bf-vm.pl"));
}

async function concatenate(parts: readonly string[], out: string): Promise<void> {
  const sink = createWriteStream(out);
  for (const part of parts) await pipeline(createReadStream(part), sink, { end: false });
  await new Promise<void>((resolve, reject) => sink.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

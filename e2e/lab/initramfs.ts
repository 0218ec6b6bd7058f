import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { packageVersions } from "./apt.ts";
import { fetchKernel } from "./kernel.ts";
import { labModules, moduleLoadOrder } from "./modules.ts";
import { guestDir } from "./paths.ts";
import { run } from "./run.ts";

export interface LabImage {
  kernelVersion: string;
  vmlinuz: string;
  initrd: string;
}

/** Packages whose programs (and the symlinks among them, like lvs -> lvm) go into the guest whole. */
const guestPackages = [
  "lvm2",
  "dmsetup",
  "thin-provisioning-tools",
  "coreutils",
  "util-linux",
  "bash",
  "grep",
  "sed",
  "findutils",
  "gzip",
  "openssh-server",
  "openssh-sftp-server",
  "openssh-client",
] as const;

const programDir = /^\/(usr\/)?(s?bin|lib\/openssh)\//;

/** The files this builder itself is made of: changing any of them rebuilds the image. */
const builderSources = ["initramfs.ts", "modules.ts"].map((name) => new URL(`./${name}`, import.meta.url));

async function cacheKey(kernelVersion: string): Promise<string> {
  const hash = createHash("sha256");
  hash.update(`kernel=${kernelVersion}\n`);
  hash.update(await packageVersions(["busybox-static", "libc6", ...guestPackages]));
  for (const url of builderSources) hash.update(await readFile(url));
  for (const name of (await readdir(guestDir)).sort()) {
    hash.update(name);
    hash.update(await readFile(join(guestDir, name)));
  }
  return hash.digest("hex").slice(0, 16);
}

/** Builds (or reuses from the cache) the kernel and initramfs every lab host boots. */
export async function buildImage(cache: string, log: (line: string) => void = () => {}): Promise<LabImage> {
  const kernel = await fetchKernel(cache, log);
  const key = await cacheKey(kernel.version);
  const imageDir = join(cache, "images", key);
  const initrd = join(imageDir, "initrd.img");
  if (!existsSync(initrd)) {
    log(`building initramfs ${key}`);
    await mkdir(dirname(imageDir), { recursive: true });
    const work = await mkdtemp(join(dirname(imageDir), ".tmp-"));
    try {
      const staging = join(work, "root");
      await stageRoot(staging, kernel.modulesDir, kernel.version);
      await mkdir(join(work, "out"));
      await writeCpio(staging, join(work, "out", "initrd.img"));
      await rm(imageDir, { recursive: true, force: true });
      await rename(join(work, "out"), imageDir);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    await pruneImages(dirname(imageDir), key);
  }
  return { kernelVersion: kernel.version, vmlinuz: kernel.vmlinuz, initrd };
}

/** Packs a staged tree into an uncompressed newc archive, all files owned by root. */
export async function writeCpio(staging: string, out: string): Promise<void> {
  await run("sh", ["-c", 'cd "$1" && find . | cpio -o -H newc -R 0:0 --quiet > "$2"', "sh", staging, out]);
}

/** Older images (other builder inputs) are 50 MB each; keep only the newest few. */
export async function pruneImages(imagesDir: string, keep: string): Promise<void> {
  const entries = await readdir(imagesDir, { withFileTypes: true });
  const old = entries.filter((entry) => entry.isDirectory() && entry.name !== keep && !entry.name.startsWith("."));
  const dated = await Promise.all(
    old.map(async (entry) => ({ name: entry.name, mtime: (await stat(join(imagesDir, entry.name))).mtimeMs })),
  );
  for (const { name } of dated.sort((a, b) => b.mtime - a.mtime).slice(2)) {
    await rm(join(imagesDir, name), { recursive: true, force: true });
  }
}

async function stageRoot(root: string, modulesDir: string, kernelVersion: string): Promise<void> {
  // Debian's merged /usr layout, so library and program paths from the host work unchanged.
  for (const dir of ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/local/bin"]) {
    await mkdir(join(root, dir), { recursive: true });
  }
  for (const top of ["bin", "sbin", "lib", "lib64"]) await symlink(`usr/${top}`, join(root, top));
  for (const dir of [
    "proc",
    "sys",
    "dev",
    "run",
    "tmp",
    "root",
    "etc/ssh",
    "etc/lvm",
    "etc/lab",
    "etc/init.d",
    "var/log",
    "mnt",
  ]) {
    await mkdir(join(root, dir), { recursive: true });
  }

  const programs: string[] = [];
  for (const pkg of guestPackages) programs.push(...(await stagePackagePrograms(root, pkg)));
  await stageLibraries(root, programs);
  await stageBusybox(root);
  await stageModules(root, modulesDir, kernelVersion);
  await stageGuestFiles(root);
  try {
    await run("mknod", ["-m", "600", join(root, "dev/console"), "c", "5", "1"]);
  } catch {
    // not root: /init mounts devtmpfs first and opens the console from there
  }
}

/** Copies a package's programs; its symlinks (lvs -> lvm, thin_delta -> pdata_tools) are recreated as links. */
export async function stagePackagePrograms(root: string, pkg: string): Promise<string[]> {
  const { stdout } = await run("dpkg", ["-L", pkg]);
  const copied: string[] = [];
  for (const path of stdout.split("\n")) {
    if (!programDir.test(path)) continue;
    const info = await lstat(path).catch(() => undefined);
    const target = join(root, path);
    if (!info || existsSync(target)) continue;
    if (info.isSymbolicLink()) {
      await symlink(await readlink(path), target);
    } else if (info.isFile() && (info.mode & 0o111) !== 0) {
      await mkdir(dirname(target), { recursive: true });
      await copyFile(path, target);
      copied.push(path);
    }
  }
  return copied;
}

/** Copies every shared library `ldd` names for the programs, plus the NSS module sshd loads at run time. */
export async function stageLibraries(root: string, programs: readonly string[]): Promise<void> {
  const nss = "/lib/x86_64-linux-gnu/libnss_files.so.2";
  await stageLibrariesOf(root, [...programs, ...(existsSync(nss) ? [nss] : [])]);
}

/**
 * Copies `files` (programs or libraries) and every shared library `ldd` names for them, under their host paths;
 * paths in `present` are already in the image this one extends.
 */
export async function stageLibrariesOf(
  root: string,
  files: readonly string[],
  present: ReadonlySet<string> = new Set(),
): Promise<void> {
  const { stdout } = await run("ldd", [...files], { allowFailure: true });
  const libraries = new Set<string>(files);
  for (const line of stdout.split("\n")) {
    const path = /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s+(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (path) libraries.add(path);
  }
  for (const path of libraries) {
    const target = join(root, path);
    if (present.has(path) || existsSync(target)) continue;
    await mkdir(dirname(target), { recursive: true });
    await copyFile(path, target); // follows the host's soname symlink: the guest gets the file under that name
  }
}

/** busybox-static provides init, sh, ip, tar, insmod and everything GNU packages above did not. */
export async function stageBusybox(root: string): Promise<void> {
  await copyFile("/bin/busybox", join(root, "usr/bin/busybox"));
  const { stdout } = await run("/bin/busybox", ["--list-full"]);
  for (const applet of stdout.split("\n").filter(Boolean)) {
    // A link named busybox would replace the binary with a link to itself (the kernel then fails /init with -40).
    if (applet.endsWith("/busybox") || applet === "linuxrc") continue;
    const target = join(root, applet);
    const exists = await lstat(target).then(
      () => true,
      () => false,
    );
    if (exists) continue;
    await mkdir(dirname(target), { recursive: true });
    await symlink("/usr/bin/busybox", target);
  }
}

async function stageModules(root: string, modulesDir: string, kernelVersion: string): Promise<void> {
  const order = moduleLoadOrder(
    await readFile(join(modulesDir, "modules.dep"), "utf8"),
    await readFile(join(modulesDir, "modules.builtin"), "utf8").catch(() => ""),
    labModules,
  );
  const guestModules = join(root, "lib/modules", kernelVersion);
  for (const path of order) {
    await mkdir(dirname(join(guestModules, path)), { recursive: true });
    await copyFile(join(modulesDir, path), join(guestModules, path));
  }
  await writeFile(join(root, "etc/lab/modules"), `${order.join("\n")}\n`);
}

async function stageGuestFiles(root: string): Promise<void> {
  const place: Array<[string, string, number]> = [
    ["init", "init", 0o755],
    ["inittab", "etc/inittab", 0o644],
    ["rcS", "etc/init.d/rcS", 0o755],
    ["lvm.conf", "etc/lvm/lvm.conf", 0o644],
    ["sshd_config", "etc/ssh/sshd_config", 0o644],
    ["nsswitch.conf", "etc/nsswitch.conf", 0o644],
    ["bf-workload", "usr/local/bin/bf-workload", 0o755],
  ];
  for (const [from, to, mode] of place) {
    await copyFile(join(guestDir, from), join(root, to));
    await chmod(join(root, to), mode);
  }
  // Root logs in by key only: "*" is no usable password, yet (unlike "!") not a locked account for sshd.
  await writeFile(
    join(root, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n",
  );
  await writeFile(join(root, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  await writeFile(join(root, "etc/shadow"), "root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n", { mode: 0o600 });
  await writeFile(join(root, "etc/shells"), "/bin/sh\n/bin/bash\n");
  await chmod(join(root, "root"), 0o700);
}

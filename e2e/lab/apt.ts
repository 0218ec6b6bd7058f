import { run } from "./run.ts";

/** Debian packages the lab takes its kernel tools, guest userland and qemu from. */
export const labPackages = [
  "qemu-system-x86",
  "busybox-static",
  "lvm2",
  "dmsetup",
  "thin-provisioning-tools",
  "openssh-server",
  "openssh-sftp-server",
  "openssh-client",
  "kmod",
  "coreutils",
  "util-linux",
  "bash",
  "tar",
  "cpio",
] as const;

/** Returns the packages from `names` that dpkg does not list as installed. */
export async function missingPackages(names: readonly string[]): Promise<string[]> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format, not a template
  const { stdout } = await run("dpkg-query", ["-W", "-f=${Package} ${db:Status-Status}\\n", ...names], {
    allowFailure: true,
  });
  const installed = new Set(
    stdout
      .split("\n")
      .filter((line) => line.endsWith(" installed"))
      .map((line) => line.split(" ")[0]),
  );
  return names.filter((name) => !installed.has(name));
}

/** Installs what the lab needs when it is missing (CI starts from a fresh machine, as root). */
export async function ensurePackages(log: (line: string) => void = () => {}): Promise<void> {
  await ensure(labPackages, log);
}

async function ensure(packages: readonly string[], log: (line: string) => void): Promise<void> {
  const missing = await missingPackages(packages);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`the lab needs these Debian packages: ${missing.join(" ")} (run as root or apt-get install them)`);
  }
  log(`installing ${missing.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-q"], { env });
  await run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...missing], { env });
}

/**
 * What VM hosts (libvirtd and qemu inside a lab host) add, with the compiler and linker of their bare-metal test VM;
 * installed only when such hosts are booted.
 */
export const labVmPackages = [
  "libvirt-daemon",
  "libvirt-daemon-driver-qemu",
  "libvirt-clients",
  "perl-base",
  "gcc",
  "binutils",
] as const;

export async function ensureVmPackages(log: (line: string) => void = () => {}): Promise<void> {
  await ensure(labVmPackages, log);
}

/** Versions of installed packages, for cache keys: "name=version" lines. */
export async function packageVersions(names: readonly string[]): Promise<string> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format, not a template
  const { stdout } = await run("dpkg-query", ["-W", "-f=${Package}=${Version}\\n", ...names], { allowFailure: true });
  return stdout;
}

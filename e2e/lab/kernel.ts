import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { run } from "./run.ts";

export interface Kernel {
  version: string;
  /** Unpacked package root: boot/vmlinuz-VERSION and lib/modules/VERSION with modules.dep. */
  root: string;
  vmlinuz: string;
  modulesDir: string;
}

const metaPackage = "linux-image-cloud-amd64";

/** The versioned kernel package that Debian's cloud kernel meta-package currently points at. */
async function resolveKernelPackage(): Promise<string> {
  const lookup = async () => {
    const { stdout } = await run("apt-cache", ["depends", metaPackage], { allowFailure: true });
    return /Depends:\s+(linux-image-[0-9][^\s]*-cloud-amd64)/.exec(stdout)?.[1];
  };
  let name = await lookup();
  if (!name) {
    await run("apt-get", ["update", "-q"], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    name = await lookup();
  }
  if (!name) throw new Error(`apt knows no ${metaPackage}: is a Debian bookworm apt source configured?`);
  return name;
}

/** Newest kernel already unpacked in the cache, for machines where apt cannot answer. */
async function cachedKernelPackage(kernelsDir: string): Promise<string | undefined> {
  if (!existsSync(kernelsDir)) return undefined;
  return (await readdir(kernelsDir))
    .filter((name) => name.startsWith("linux-image-"))
    .sort()
    .at(-1);
}

/** Downloads (once) and unpacks Debian's cloud kernel; modules.dep is generated with depmod. */
export async function fetchKernel(cache: string, log: (line: string) => void = () => {}): Promise<Kernel> {
  const kernelsDir = join(cache, "kernels");
  let pkg: string;
  try {
    pkg = await resolveKernelPackage();
  } catch (error) {
    const cached = await cachedKernelPackage(kernelsDir);
    if (!cached) throw error;
    pkg = cached;
  }
  const version = pkg.replace(/^linux-image-/, "");
  const root = join(kernelsDir, pkg);
  const kernel = {
    version,
    root,
    vmlinuz: join(root, "boot", `vmlinuz-${version}`),
    modulesDir: join(root, "lib", "modules", version),
  };
  if (existsSync(join(kernel.modulesDir, "modules.dep"))) return kernel;

  log(`downloading ${pkg}`);
  await mkdir(kernelsDir, { recursive: true });
  const work = await mkdtemp(join(kernelsDir, ".tmp-"));
  try {
    // apt drops privileges to _apt for downloads; a world-writable temp dir avoids its "unsandboxed" fallback.
    await run("chmod", ["0777", work]);
    await run("apt-get", ["download", "-q", pkg], { cwd: work });
    const deb = (await readdir(work)).find((name) => name.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
    const unpacked = join(work, "root");
    await run("dpkg-deb", ["-x", join(work, deb), unpacked]);
    await run("depmod", ["-b", unpacked, version]);
    await rm(root, { recursive: true, force: true });
    await rename(unpacked, root);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return kernel;
}

/** Kernel modules a lab host loads: disks, network, entropy, and every device-mapper target the tests use. */
export const labModules = [
  "virtio_pci",
  "virtio_blk",
  "virtio_net",
  "virtio-rng",
  "dm-mod",
  "dm-snapshot",
  "dm-thin-pool",
  "dm-zero",
  "dm-flakey",
  "dm-delay",
] as const;

const moduleName = (path: string) =>
  (path.split("/").at(-1) ?? path).replace(/\.ko(\.[a-z]+)?$/, "").replaceAll("-", "_");

/**
 * Reads a modules.dep and returns the module paths to insmod, dependencies first.
 * Modules that are built into the kernel (listed in modules.builtin) are skipped.
 */
export function moduleLoadOrder(modulesDep: string, modulesBuiltin: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, { path: string; needs: string[] }>();
  for (const line of modulesDep.split("\n")) {
    const [path, rest] = line.split(":");
    if (!path || rest === undefined) continue;
    deps.set(moduleName(path), { path, needs: rest.trim().split(/\s+/).filter(Boolean) });
  }
  const builtin = new Set(modulesBuiltin.split("\n").filter(Boolean).map(moduleName));
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const entry = deps.get(name);
    if (!entry) {
      if (builtin.has(name)) return;
      throw new Error(`kernel module ${name} is neither in modules.dep nor built in`);
    }
    for (const need of entry.needs) visit(moduleName(need));
    order.push(entry.path);
  };
  for (const name of wanted) visit(moduleName(name));
  return order;
}

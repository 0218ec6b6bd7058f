import type { VmControl } from "@blockferry/contracts";
import { shJoin, validateDevicePath, validateDomainName } from "@blockferry/lvm";
import type { HostShell } from "../context.ts";
import { abortableSleep } from "../phases/shared.ts";
import type { VmController } from "./controller.ts";

type LibvirtVm = Extract<VmControl, { controller: "libvirt" }>;

const DOMAIN = /^[A-Za-z0-9_.+-]{1,200}$/;
const virsh = (...args: string[]) => shJoin(["virsh", "--quiet", ...args]);

/** Points every disk of the domain that used the source device at the target device. */
export function rewriteDiskPaths(xml: string, from: string, to: string): string {
  const escaped = (s: string) => s.replaceAll("&", "&amp;").replaceAll("'", "&apos;").replaceAll('"', "&quot;");
  let count = 0;
  const out = xml.replace(/<source\s+dev=(["'])([^"']*)\1/g, (whole, q: string, dev: string) => {
    if (dev !== from && dev !== escaped(from)) return whole;
    count++;
    return `<source dev=${q}${escaped(to)}${q}`;
  });
  if (count === 0) throw new Error(`the domain has no disk backed by ${from}`);
  return out;
}

/** libvirt: graceful shutdown with a timeout then destroy; the XML moves with its disk paths rewritten. */
export function libvirtController(
  vm: LibvirtVm,
  source: HostShell,
  target: HostShell,
  sourceDevice: string,
): VmController {
  if (!DOMAIN.test(vm.domain)) throw new Error(`invalid libvirt domain name ${JSON.stringify(vm.domain)}`);
  // virsh reads a leading '-' as an option: refused here too, not only at the API (a job stored before).
  const domain = validateDomainName(vm.domain);
  const state = async (shell: HostShell, signal: AbortSignal) =>
    (await shell.run(virsh("domstate", domain), { signal })).trim();
  return {
    async stopSource(signal) {
      if ((await state(source, signal)) === "shut off") return;
      await source.run(virsh("shutdown", domain), { signal });
      const deadline = Date.now() + (vm.shutdownTimeoutSeconds ?? 120) * 1000;
      while (Date.now() < deadline) {
        if ((await state(source, signal)) === "shut off") return;
        await abortableSleep(1000, signal);
      }
      await source.run(virsh("destroy", domain), { signal });
    },
    async startTarget(targetDevice, signal) {
      validateDevicePath(targetDevice);
      const xml = await source.run(virsh("dumpxml", "--inactive", domain), { signal });
      await target.run(virsh("define", "/dev/stdin"), {
        stdin: rewriteDiskPaths(xml, sourceDevice, targetDevice),
        signal,
      });
      await target.run(virsh("start", domain), { signal });
      if (vm.undefineSource) await source.run(virsh("undefine", domain), { signal });
    },
    async restartSource(signal) {
      if ((await state(source, signal)) !== "running") await source.run(virsh("start", domain), { signal });
    },
    async runningOn(host, signal) {
      try {
        return (await state(host === "source" ? source : target, signal)) === "running";
      } catch (err) {
        // Not defined there (the target before its first start): not running there either.
        if (/failed to get domain/.test(String((err as { stderrTail?: unknown }).stderrTail ?? ""))) return false;
        throw err;
      }
    },
  };
}

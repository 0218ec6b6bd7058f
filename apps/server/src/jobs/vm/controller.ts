import type { VmControl } from "@blockferry/contracts";
import { shQuote } from "@blockferry/lvm";
import type { HostShell } from "../context.ts";
import { libvirtController } from "./libvirt.ts";

/** Stops the VM on the source, starts it on the target; restarts it on the source after a cancel. */
export interface VmController {
  stopSource(signal: AbortSignal): Promise<void>;
  startTarget(targetDevice: string, signal: AbortSignal): Promise<void>;
  /** Undo of stopSource, for cancel; a no-op where the operator gave no command. */
  restartSource(signal: AbortSignal): Promise<void>;
}

const noVm: VmController = {
  async stopSource() {},
  async startTarget() {},
  async restartSource() {},
};

/** `commands`: operator-written shell run as given; `{device}` becomes the quoted target device path. */
function commandsController(
  vm: Extract<VmControl, { controller: "commands" }>,
  source: HostShell,
  target: HostShell,
): VmController {
  const timeoutMs = (vm.timeoutSeconds ?? 120) * 1000;
  return {
    async stopSource(signal) {
      await source.run(vm.stopSource, { timeoutMs, signal });
    },
    async startTarget(device, signal) {
      await target.run(vm.startTarget.replaceAll("{device}", shQuote(device)), { timeoutMs, signal });
    },
    async restartSource(signal) {
      if (vm.startSource) await source.run(vm.startSource, { timeoutMs, signal });
    },
  };
}

export function vmControllerFor(
  vm: VmControl,
  source: HostShell,
  target: HostShell,
  sourceDevice: string,
): VmController {
  switch (vm.controller) {
    case "none":
      return noVm;
    case "commands":
      return commandsController(vm, source, target);
    case "libvirt":
      return libvirtController(vm, source, target, sourceDevice);
  }
}

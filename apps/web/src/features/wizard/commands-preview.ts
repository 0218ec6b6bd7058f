/**
 * The exact commands the VM controller will run, for the wizard's Review. They mirror the server's controllers
 * (apps/server/src/jobs/vm/libvirt.ts and controller.ts): same arguments, same quoting (packages/lvm shQuote),
 * checked against that quoting in apps/web/test/wizard-commands.test.ts.
 */
import type { VmControl } from "@blockferry/contracts";

/** POSIX single quotes, as packages/lvm's shQuote writes them (the web does not bundle that package). */
export const shQuote = (value: string) => `'${value.replaceAll("'", `'\\''`)}'`;
const virsh = (...args: string[]) => ["virsh", "--quiet", ...args].map(shQuote).join(" ");

export interface CommandLine {
  /** The host's name. */
  host: string;
  command: string;
  /** When or why it runs, where that is not every time. */
  note?: string;
}

export interface VmCommands {
  stop: CommandLine[];
  start: CommandLine[];
  /** Said under the start commands: the VM is left shut off on the target (libvirt `startTarget: false`). */
  startNote?: string;
  /** What a cancel runs to bring the VM back on the source. */
  restart: CommandLine[];
}

export interface PreviewHosts {
  source: string;
  target: string;
  /** Each disk's device on the source and on the target, disk 0 first. */
  devices: Array<{ source: string; target: string }>;
}

export const lvDevice = (vg: string, lv: string) => `/dev/${vg}/${lv}`;

export function vmCommands(vm: VmControl, h: PreviewHosts): VmCommands {
  switch (vm.controller) {
    case "none":
      return { stop: [], start: [], restart: [] };
    case "commands":
      return {
        stop: [{ host: h.source, command: vm.stopSource }],
        // As the server's fillDevices: {device} is disk 0's target path, {devices} every disk's in order.
        start: [
          {
            host: h.target,
            command: vm.startTarget
              .replaceAll("{devices}", h.devices.map((d) => shQuote(d.target)).join(" "))
              .replaceAll("{device}", shQuote(h.devices[0]?.target ?? "")),
          },
        ],
        restart: vm.startSource ? [{ host: h.source, command: vm.startSource }] : [],
      };
    case "libvirt": {
      const d = vm.domain;
      const timeout = vm.shutdownTimeoutSeconds ?? 120;
      const starts = vm.startTarget !== false;
      const networks = Object.entries(vm.networkMap ?? {}).map(([from, to]) => `network ${from} replaced by ${to}`);
      const replaced = [...h.devices.map((d) => `${d.source} replaced by ${d.target}`), ...networks];
      return {
        stop: [
          { host: h.source, command: virsh("shutdown", d), note: "unless it is already shut off" },
          { host: h.source, command: virsh("destroy", d), note: `only if still running after ${timeout} s` },
        ],
        start: [
          { host: h.source, command: virsh("dumpxml", "--inactive", d), note: "reads the VM's definition" },
          {
            host: h.target,
            command: virsh("define", "/dev/stdin"),
            note: `that definition, with ${replaced.join(", ")}`,
          },
          ...(starts ? [{ host: h.target, command: virsh("start", d) }] : []),
          ...(vm.undefineSource ? [{ host: h.source, command: virsh("undefine", d) }] : []),
        ],
        ...(starts
          ? {}
          : {
              startNote: `No virsh start: the VM stays shut off on ${h.target} (maintenance move); start it there yourself.`,
            }),
        restart: [{ host: h.source, command: virsh("start", d), note: "unless it is running" }],
      };
    }
  }
}

import { vmKernelPath } from "./image.ts";

/** What `pnpm lab vm create` asks for. */
export interface VmSpec {
  name: string;
  disks: number;
  /** lvcreate size: digits and a unit, like "64m". */
  size: string;
  /** The second disk is a thin LV in a pool of its own (`NAME-pool`). */
  thin: boolean;
  /** Records per second and disk the VM writes. */
  rate: number;
  memoryMiB: number;
  /** The VM's BIOS: qemu's minimal qboot (faster to the kernel) or SeaBIOS (qemu's default). */
  firmware: Firmware;
}

export const firmwares = ["qboot", "seabios"] as const;
export type Firmware = (typeof firmwares)[number];

export const vmDefaults = { disks: 2, size: "32m", thin: false, rate: 4, memoryMiB: 16, firmware: "qboot" } as const;

const namePattern = /^[a-z][a-z0-9-]{0,30}$/;
const sizePattern = /^[1-9][0-9]{0,6}[mMgG]$/;

/** Throws on anything that is not a plain name, size or count: these values reach a shell and an XML file. */
export function validateSpec(spec: VmSpec): void {
  if (!namePattern.test(spec.name)) throw new Error(`VM name must match ${namePattern}, not ${spec.name}`);
  if (!Number.isInteger(spec.disks) || spec.disks < 1 || spec.disks > 4)
    throw new Error(`--disks must be 1..4 (the VM's disks are IDE), not ${spec.disks}`);
  if (!sizePattern.test(spec.size)) throw new Error(`--size must look like 64m or 1g, not ${spec.size}`);
  if (spec.thin && spec.disks < 2) throw new Error("--thin puts the second disk in a thin pool: it needs --disks 2+");
  if (!Number.isInteger(spec.rate) || spec.rate < 1 || spec.rate > 1000)
    throw new Error(`--rate must be 1..1000, not ${spec.rate}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 16 || spec.memoryMiB > 1024)
    throw new Error(`--memory must be 16..1024 MiB, not ${spec.memoryMiB}`);
  if (!firmwares.includes(spec.firmware)) throw new Error(`--firmware must be ${firmwares.join(" or ")}`);
}

/** hda, hdb, hdc, hdd: IDE primary master and slave, then secondary; the VM names its disks alike. */
export const diskTarget = (index: number) => `hd${String.fromCharCode(97 + index)}`;
export const diskLv = (name: string, index: number) => `${name}-disk${index}`;
export const thinPoolLv = (name: string) => `${name}-pool`;
/** The VM's check channel (its second serial port, COM2) on the lab host. */
export const checkSocket = (name: string) => `/run/bf-vm/${name}.sock`;
export const consoleLog = (name: string) => `/var/log/libvirt/qemu/${name}.console.log`;

/** The VM's command line (multiboot): its id, how many disks to write and how many records per second. */
export function vmCmdline(spec: Pick<VmSpec, "disks" | "rate">, id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`VM id must be 16 hex digits, not ${id}`);
  return `bf.id=${id} bf.disks=${spec.disks} bf.rate=${spec.rate}`;
}

/** qemu's qboot as the BIOS; SeaBIOS is qemu's default and needs no <loader>. */
const qbootRom = "/usr/share/qemu/qboot.rom";

/**
 * A libvirt domain of type qemu (TCG: lab hosts have no KVM) booting the bare-metal test VM (vm/guest/) directly
 * as a multiboot kernel, its disks IDE. `id` tells the VM's records apart from leftovers of an earlier VM on
 * reused extents.
 */
export function domainXml(spec: VmSpec, vg: string, id: string): string {
  const disks = Array.from({ length: spec.disks }, (_, index) =>
    [
      "    <disk type='block' device='disk'>",
      "      <driver name='qemu' type='raw' cache='none'/>",
      `      <source dev='/dev/${vg}/${diskLv(spec.name, index)}'/>`,
      `      <target dev='${diskTarget(index)}' bus='ide'/>`,
      "    </disk>",
    ].join("\n"),
  );
  const loader = spec.firmware === "qboot" ? `\n    <loader readonly='yes' type='rom'>${qbootRom}</loader>` : "";
  return `<domain type='qemu'>
  <name>${spec.name}</name>
  <memory unit='MiB'>${spec.memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>${loader}
    <kernel>${vmKernelPath}</kernel>
    <cmdline>${vmCmdline(spec, id)}</cmdline>
    <bootmenu enable='no'/>
  </os>
  <features>
    <acpi/>
    <tcg><tb-cache unit='MiB'>16</tb-cache></tcg>
  </features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
${disks.join("\n")}
    <serial type='file'>
      <source path='${consoleLog(spec.name)}' append='on'/>
      <target port='0'/>
    </serial>
    <serial type='unix'>
      <source mode='bind' path='${checkSocket(spec.name)}'/>
      <target port='1'/>
    </serial>
    <controller type='usb' model='none'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

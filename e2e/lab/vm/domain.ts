import { vmBootDir } from "./image.ts";

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
}

export const vmDefaults = { disks: 2, size: "32m", thin: false, rate: 4, memoryMiB: 96 } as const;

const namePattern = /^[a-z][a-z0-9-]{0,30}$/;
const sizePattern = /^[1-9][0-9]{0,6}[mMgG]$/;

/** Throws on anything that is not a plain name, size or count: these values reach a shell and an XML file. */
export function validateSpec(spec: VmSpec): void {
  if (!namePattern.test(spec.name)) throw new Error(`VM name must match ${namePattern}, not ${spec.name}`);
  if (!Number.isInteger(spec.disks) || spec.disks < 1 || spec.disks > 16)
    throw new Error(`--disks must be 1..16, not ${spec.disks}`);
  if (!sizePattern.test(spec.size)) throw new Error(`--size must look like 64m or 1g, not ${spec.size}`);
  if (spec.thin && spec.disks < 2) throw new Error("--thin puts the second disk in a thin pool: it needs --disks 2+");
  if (!Number.isInteger(spec.rate) || spec.rate < 1 || spec.rate > 1000)
    throw new Error(`--rate must be 1..1000, not ${spec.rate}`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 64 || spec.memoryMiB > 1024)
    throw new Error(`--memory must be 64..1024 MiB, not ${spec.memoryMiB}`);
}

/** vda, vdb, ..., as the VM sees its disks in order. */
export const diskTarget = (index: number) => `vd${String.fromCharCode(97 + index)}`;
export const diskLv = (name: string, index: number) => `${name}-disk${index}`;
export const thinPoolLv = (name: string) => `${name}-pool`;
/** The VM's check channel (a virtio-serial port named bf.check) on the lab host. */
export const checkSocket = (name: string) => `/run/bf-vm/${name}.sock`;
export const consoleLog = (name: string) => `/var/log/libvirt/qemu/${name}.console.log`;

/**
 * The VM's kernel arguments. acpi=noirq pci=nomsi: as on the lab hosts, ACPI interrupt routing costs seconds per
 * device under TCG; the power button still reaches the VM (ACPI's own interrupt is not routed that way). The rest
 * skips boot work that nested TCG makes very slow: console output, KASLR relocation, crypto self-tests, TSC checks.
 */
export function vmCmdline(spec: Pick<VmSpec, "disks" | "rate">, id: string): string {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`VM id must be 16 hex digits, not ${id}`);
  const boot = "console=ttyS0 quiet panic=-1 acpi=noirq pci=nomsi nokaslr cryptomgr.notests audit=0 tsc=reliable";
  return `${boot} no_timer_check bf.id=${id} bf.disks=${spec.disks} bf.rate=${spec.rate}`;
}

/**
 * A libvirt domain of type qemu (TCG: lab hosts have no KVM) booting the lab's kernel directly with the record
 * writer's initrd. `id` tells the VM's records apart from leftovers of an earlier VM on reused extents.
 */
export function domainXml(spec: VmSpec, vg: string, id: string): string {
  const disks = Array.from({ length: spec.disks }, (_, index) =>
    [
      "    <disk type='block' device='disk'>",
      "      <driver name='qemu' type='raw' cache='none'/>",
      `      <source dev='/dev/${vg}/${diskLv(spec.name, index)}'/>`,
      `      <target dev='${diskTarget(index)}' bus='virtio'/>`,
      "    </disk>",
    ].join("\n"),
  );
  const cmdline = vmCmdline(spec, id);
  return `<domain type='qemu'>
  <name>${spec.name}</name>
  <memory unit='MiB'>${spec.memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${vmBootDir}/vmlinuz</kernel>
    <initrd>${vmBootDir}/initrd.img</initrd>
    <cmdline>${cmdline}</cmdline>
  </os>
  <features>
    <acpi/>
    <tcg><tb-cache unit='MiB'>64</tb-cache></tcg>
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
    <channel type='unix'>
      <source mode='bind' path='${checkSocket(spec.name)}'/>
      <target type='virtio' name='bf.check'/>
    </channel>
    <controller type='usb' model='none'/>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

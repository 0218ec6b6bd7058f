// The libvirt adapter moves a domain's XML to the target with its disk paths rewritten: pure string logic,
// tested here (the lab guests run no libvirt).
import { describe, expect, it } from "vitest";
import type { HostShell } from "../../src/jobs/context.ts";
import { libvirtController, rewriteDiskPaths } from "../../src/jobs/vm/libvirt.ts";

const domain = (dev: string, quote = "'") => `<domain type='kvm'>
  <name>web1</name>
  <devices>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw' cache='none'/>
      <source dev=${quote}${dev}${quote}/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/vg0/other'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>`;

describe("rewriteDiskPaths", () => {
  it("points the disk backed by the source device at the target device and leaves other disks alone", () => {
    const out = rewriteDiskPaths(domain("/dev/vg0/vm1"), "/dev/vg0/vm1", "/dev/vg1/vm1");
    expect(out).toBe(domain("/dev/vg1/vm1"));
    expect(out).toContain("<source dev='/dev/vg0/other'/>");
  });

  it("keeps the attribute's quoting and escapes what XML needs escaped", () => {
    expect(rewriteDiskPaths(domain("/dev/vg0/vm1", '"'), "/dev/vg0/vm1", "/dev/vg1/a&b")).toBe(
      domain("/dev/vg1/a&amp;b", '"'),
    );
  });

  it("refuses a domain without a disk on the source device (nothing would move)", () => {
    expect(() => rewriteDiskPaths(domain("/dev/vg0/vm2"), "/dev/vg0/vm1", "/dev/vg1/vm1")).toThrow(/no disk/);
  });
});

describe("libvirt domain names", () => {
  it("refuses a domain starting with '-' before any virsh command is built (virsh would read an option)", () => {
    const ran: string[] = [];
    const run = async (command: string) => {
      ran.push(command);
      return "";
    };
    const shell = { run } as unknown as HostShell;
    const vm = { controller: "libvirt", domain: "-c" } as const;
    expect(() => libvirtController(vm, shell, shell, "/dev/vg0/vm1")).toThrow(/must not start with '-'/);
    expect(ran).toEqual([]);
  });
});

// The libvirt adapter moves a domain's XML to the target with every disk of the set and the mapped interfaces
// rewritten, and its prechecks judge the domain's disks and networks: pure logic, tested here (the lab proves the
// rest against a real libvirtd in e2e/tests/migration-vm.test.ts).
import { describe, expect, it } from "vitest";
import type { HostShell } from "../../src/jobs/context.ts";
import { readDomain, rewriteDomain } from "../../src/jobs/vm/domain-xml.ts";
import { type DiskMove, libvirtController, targetDomainXml } from "../../src/jobs/vm/libvirt.ts";
import { diskSetCheck, mediaCheck, networksCheck, removableMedia } from "../../src/jobs/vm/libvirt-prechecks.ts";

/** A domain as `virsh dumpxml --inactive` prints one: two LV disks (two path forms), a CD-ROM, two interfaces. */
const domainXml = (o: { disk0?: string; disk1?: string; net?: string; bridge?: string; quote?: string } = {}) => {
  const q = o.quote ?? "'";
  return `<domain type='kvm'>
  <name>web1</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <memory unit='KiB'>1048576</memory>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw' cache='none' io='native'/>
      <source dev=${q}${o.disk0 ?? "/dev/vg0/web1-root"}${q}/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='block' device='disk'>
      <driver name='qemu' type='raw'/>
      <source dev='${o.disk1 ?? "/dev/mapper/data--vg-web1--data"}'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:6b:3c:58'/>
      <source network='${o.net ?? "default"}'/>
      <model type='virtio'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:aa:bb:cc'/>
      <source bridge='${o.bridge ?? "br0"}'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
`;
};

const disks: DiskMove[] = [
  { sourceVg: "vg0", sourceLv: "web1-root", targetVg: "fast", targetLv: "web1-root" },
  { sourceVg: "data-vg", sourceLv: "web1-data", targetVg: "bulk", targetLv: "web1-data-new" },
];

describe("reading a domain", () => {
  it("lists its disks with their sources (an empty CD-ROM has none) and its interfaces", () => {
    const d = readDomain(domainXml());
    expect(d.name).toBe("web1");
    expect(d.uuid).toBe("4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
    expect(d.disks).toEqual([
      { target: "vda", type: "block", device: "disk", source: "/dev/vg0/web1-root" },
      { target: "vdb", type: "block", device: "disk", source: "/dev/mapper/data--vg-web1--data" },
      { target: "sda", type: "file", device: "cdrom", source: null },
    ]);
    expect(d.interfaces).toEqual([
      { type: "network", source: "default", mac: "52:54:00:6b:3c:58" },
      { type: "bridge", source: "br0", mac: "52:54:00:aa:bb:cc" },
    ]);
  });
});

describe("the domain for the target", () => {
  it("points every disk of the set at its target LV, whichever path form the source used", () => {
    const out = targetDomainXml(domainXml(), disks);
    expect(out).toBe(domainXml({ disk0: "/dev/fast/web1-root", disk1: "/dev/bulk/web1-data-new" }));
  });

  it("moves the interfaces networkMap names and leaves the others as they were", () => {
    const out = targetDomainXml(domainXml(), disks, { br0: "br-lan", unused: "x" });
    expect(readDomain(out).interfaces.map((i) => i.source)).toEqual(["default", "br-lan"]);
    expect(out).toBe(domainXml({ disk0: "/dev/fast/web1-root", disk1: "/dev/bulk/web1-data-new", bridge: "br-lan" }));
  });

  it("keeps the attribute's quoting and escapes what XML needs escaped", () => {
    const out = rewriteDomain(domainXml({ quote: '"' }), { disks: new Map([["/dev/vg0/web1-root", "/dev/vg1/a&b"]]) });
    expect(out).toBe(domainXml({ quote: '"', disk0: "/dev/vg1/a&amp;b" }));
    expect(readDomain(out).disks[0]?.source).toBe("/dev/vg1/a&b");
  });

  it("refuses a set with a disk the domain does not have (the XML would not describe what moved)", () => {
    const extra = [...disks, { sourceVg: "vg0", sourceLv: "other", targetVg: "vg0", targetLv: "other" }];
    expect(() => targetDomainXml(domainXml(), extra)).toThrow(/no disk backed by vg0\/other/);
  });
});

describe("the VM disks precheck", () => {
  const lvOf = (p: string) => ({ "/dev/vg0/web1-root": "vg0/web1-root", "/dev/vg0/swap": "vg0/swap" })[p] ?? null;

  it("passes when every disk with a source is an LV of the set", () => {
    const check = diskSetCheck("web1", readDomain(domainXml()), disks, lvOf);
    expect(check).toMatchObject({ name: "VM disks", ok: true });
  });

  it("refuses an LV disk left out of the set, a file disk and a raw device, each with its reason", () => {
    const xml = domainXml().replace(
      "<disk type='file' device='cdrom'>",
      `<disk type='block' device='disk'><source dev='/dev/vg0/swap'/><target dev='vdc' bus='virtio'/></disk>
    <disk type='file' device='disk'><source file='/var/lib/libvirt/images/scratch.qcow2'/><backingStore type='file'><source file='/base.qcow2'/></backingStore><target dev='vdd' bus='virtio'/></disk>
    <disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vde' bus='virtio'/></disk>
    <disk type='network' device='disk'><source protocol='rbd' name='pool/img'/><target dev='vdf' bus='virtio'/></disk>
    <disk type='file' device='cdrom'>`,
    );
    const check = diskSetCheck("web1", readDomain(xml), disks, lvOf);
    expect(check.ok).toBe(false);
    expect(check.message).toContain("vdc (disk) is the LV vg0/swap, which is not in this migration: add it");
    expect(check.message).toContain(
      "vdd (disk) is a file disk (/var/lib/libvirt/images/scratch.qcow2): only LV-backed disks can move",
    );
    expect(check.message).toContain("vde (disk) is /dev/sdb, which is not an LV");
    expect(check.message).toContain("vdf (disk) is a network disk (pool/img)");
  });

  it("refuses a disk of the set that the domain does not use", () => {
    const extra = [...disks, { sourceVg: "vg0", sourceLv: "other", targetVg: "vg0", targetLv: "other" }];
    const check = diskSetCheck("web1", readDomain(domainXml()), extra, lvOf);
    expect(check).toMatchObject({ ok: false, message: "vg0/other is not a disk of domain web1" });
  });
});

describe("the VM media precheck", () => {
  const lvOf = (p: string) => ({ "/dev/vg0/web1-root": "vg0/web1-root", "/dev/vg0/swap": "vg0/swap" })[p] ?? null;
  const withIso = domainXml().replace(
    "<disk type='file' device='cdrom'>",
    "<disk type='file' device='cdrom'><source file='/srv/iso/installer.iso'/>",
  );

  it("lets an inserted ISO stay behind: not a disk of the set, but asked for on the target", () => {
    const devices = readDomain(withIso);
    expect(diskSetCheck("web1", devices, disks, lvOf)).toMatchObject({ ok: true });
    expect(removableMedia(devices).map((m) => m.source)).toEqual(["/srv/iso/installer.iso"]);
    expect(mediaCheck(removableMedia(devices), new Set(), "hv2")).toEqual({
      name: "VM media",
      ok: true,
      message: "hv2 has the inserted media at the same paths: /srv/iso/installer.iso",
    });
  });

  it("refuses when the target lacks the image, with both ways out", () => {
    const media = removableMedia(readDomain(withIso));
    expect(mediaCheck(media, new Set(["/srv/iso/installer.iso"]), "hv2")).toEqual({
      name: "VM media",
      ok: false,
      message: "sda (cdrom): /srv/iso/installer.iso is not on hv2: copy it there at the same path, or eject it",
    });
  });

  it("asks nothing for an empty drive", () => {
    expect(removableMedia(readDomain(domainXml()))).toEqual([]);
  });
});

describe("the VM networks precheck", () => {
  const lab2 = { networks: new Set(["default"]), bridges: new Set(["br-lan"]), links: new Set(["eth0", "lo"]) };

  it("refuses an interface whose bridge the target lacks, and says how to map it", () => {
    const check = networksCheck(readDomain(domainXml()), {}, lab2, "lab2");
    expect(check.ok).toBe(false);
    expect(check.message).toBe(
      'interface 52:54:00:aa:bb:cc (bridge br0): lab2 has no bridge br0; create it there or map it (vm.networkMap {"br0": "NAME"})',
    );
    // The same, structured: what a client offers to map, with the target's bridges to map it to.
    expect(check.missingNetworks).toEqual([{ source: "br0", kind: "bridge", wanted: "br0", offered: ["br-lan"] }]);
  });

  it("lists each missing source once, with what was looked for after the map and what the target offers", () => {
    const xml = domainXml({ net: "prod", bridge: "prod" }).replace(
      "</devices>",
      "<interface type='network'><mac address='52:54:00:00:00:03'/><source network='prod'/></interface>\n" +
        "<interface type='direct'><mac address='52:54:00:00:00:04'/><source dev='eno9' mode='bridge'/></interface>\n</devices>",
    );
    const check = networksCheck(readDomain(xml), { prod: "nat" }, lab2, "lab2");
    expect(check.ok).toBe(false);
    expect(check.missingNetworks).toEqual([
      { source: "prod", kind: "network", wanted: "nat", offered: ["default"] },
      { source: "eno9", kind: "host interface", wanted: "eno9", offered: ["br-lan", "eth0", "lo"] },
    ]);
    expect(networksCheck(readDomain(domainXml()), { br0: "br-lan" }, lab2, "lab2").missingNetworks).toBeUndefined();
  });

  it("passes once networkMap points it at what the target has, and refuses a map to what it lacks", () => {
    const ok = networksCheck(readDomain(domainXml()), { br0: "br-lan" }, lab2, "lab2");
    expect(ok).toMatchObject({ ok: true, message: "lab2 has what the 2 interfaces attach to (mapped: br0 -> br-lan)" });
    const bad = networksCheck(readDomain(domainXml()), { br0: "eth0", default: "nat" }, lab2, "lab2");
    expect(bad.message).toContain("interface 52:54:00:6b:3c:58 (network default -> nat): lab2 has no network nat");
    // A plain host interface is no bridge.
    expect(bad.message).toContain("(bridge br0 -> eth0): lab2 has no bridge eth0");
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
    expect(() => libvirtController(vm, shell, shell, disks)).toThrow(/must not start with '-'/);
    expect(ran).toEqual([]);
  });
});

// libvirt's prechecks for a VM's disk set, run as they would over SSH: each command in a real /bin/sh whose PATH
// holds a stand-in virsh (and lvs) answering from files, one directory per host. The real libvirtd is the lab's
// (e2e/tests/migration-vm.test.ts).
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lvmReportJson, lvReportRow } from "../../../../test-support/lvm-report.ts";
import type { HostShell } from "../../src/hosts/shell.ts";
import type { DiskMove } from "../../src/jobs/vm/libvirt.ts";
import { libvirtPrechecks } from "../../src/jobs/vm/libvirt-prechecks.ts";

const root = mkdtempSync(join(tmpdir(), "bf-libvirt-"));

/**
 * A host whose PATH is one directory with a stand-in `virsh`: `dumpxml` prints `domain.xml` (or fails as virsh does
 * for an unknown domain), `list --name` / `--uuid` and `net-list` print their files, and each call is logged.
 */
function host(
  name: string,
  files: { domainXml?: string; names?: string; uuids?: string; nets?: string; down?: boolean },
) {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [file, text] of Object.entries(files)) if (typeof text === "string") writeFileSync(join(dir, file), text);
  const virsh = `#!/bin/sh
echo "$*" >>"${dir}/calls"
${files.down ? `echo "error: failed to connect to the hypervisor" >&2; exit 1` : ""}
shift # --quiet
case "$1 $2" in
  "dumpxml --inactive") [ -f "${dir}/domainXml" ] && exec cat "${dir}/domainXml"
    echo "error: failed to get domain '$3'" >&2; exit 1 ;;
  "list --all") [ "$3" = --name ] && exec cat "${dir}/names"; exec cat "${dir}/uuids" ;;
  "net-list --all") exec cat "${dir}/nets" ;;
esac
echo "unexpected: $*" >&2; exit 2
`;
  writeFileSync(join(dir, "virsh"), virsh);
  chmodSync(join(dir, "virsh"), 0o755);
  const lvs = lvmReportJson("lv", [
    lvReportRow({ vg_name: "vg0", lv_name: "web1-root" }),
    lvReportRow({ vg_name: "vg0", lv_name: "web1-data" }),
    lvReportRow({ vg_name: "vg0", lv_name: "web1-swap" }),
  ]);
  writeFileSync(join(dir, "lvs"), `#!/bin/sh\ncat <<'EOF'\n${lvs}\nEOF\n`);
  chmodSync(join(dir, "lvs"), 0o755);
  const shell: HostShell = {
    hostId: 1,
    name,
    run: (command) =>
      new Promise((resolve, reject) =>
        execFile("/bin/sh", ["-c", command], { env: { PATH: `${dir}:/usr/bin:/bin` } }, (err, stdout, stderr) =>
          err ? reject(Object.assign(new Error(stderr), { stderrTail: stderr })) : resolve(stdout),
        ),
      ),
    openByteSource: () => Promise.reject(new Error("not used by prechecks")),
  };
  return shell;
}

const UUID = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0";
const xml = (extraDisk = "") => `<domain type='qemu'>
  <name>web1</name>
  <uuid>${UUID}</uuid>
  <devices>
    <disk type='block' device='disk'>
      <source dev='/dev/vg0/web1-root'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <disk type='block' device='disk'>
      <source dev='/dev/mapper/vg0-web1--data'/>
      <target dev='hdb' bus='ide'/>
    </disk>${extraDisk}
    <interface type='network'>
      <mac address='52:54:00:6b:3c:58'/>
      <source network='default'/>
    </interface>
  </devices>
</domain>
`;
const disks: DiskMove[] = [
  { sourceVg: "vg0", sourceLv: "web1-root", targetVg: "vg0", targetLv: "web1-root" },
  { sourceVg: "vg0", sourceLv: "web1-data", targetVg: "vg0", targetLv: "web1-data" },
];
const vm = { controller: "libvirt", domain: "web1" } as const;
const byName = <C extends { name: string }>(checks: C[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

describe("libvirt prechecks against a stand-in virsh in a real sh", () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const lab1 = host("lab1", { domainXml: xml() });
  const lab2 = host("lab2", { names: "other\n\n", uuids: "11111111-2222-3333-4444-555555555555\n", nets: "default\n" });

  it("passes a domain whose disks are all the set's LVs, onto a target with its network and the name free", async () => {
    const checks = byName(await libvirtPrechecks(vm, disks, { source: lab1, target: lab2 }));
    expect(checks["VM disks"]).toMatchObject({ ok: true });
    expect(checks["libvirt on the target"]).toMatchObject({
      ok: true,
      message: "libvirt answers on lab2; the name web1 is free there",
    });
    expect(checks["VM networks"]).toMatchObject({ ok: true });
  });

  it("refuses a domain with an LV disk the set leaves behind, and one the source does not define", async () => {
    const withSwap = host("lab1-swap", {
      domainXml: xml(
        "\n    <disk type='block' device='disk'><source dev='/dev/vg0/web1-swap'/><target dev='hdc' bus='ide'/></disk>",
      ),
    });
    const [swap] = await libvirtPrechecks(vm, disks, { source: withSwap, target: null });
    expect(swap).toMatchObject({ ok: false, message: expect.stringContaining("hdc (disk) is the LV vg0/web1-swap") });

    const none = host("lab1-none", {});
    const [missing] = await libvirtPrechecks(vm, disks, { source: none, target: null });
    expect(missing).toMatchObject({ ok: false, message: "domain web1 is not defined on lab1-none" });
  });

  it("refuses a target that has the name or the UUID already, or lacks the network unless it is mapped", async () => {
    const taken = host("lab2-taken", { names: "web1\n", uuids: `${UUID}\n`, nets: "default\n" });
    expect(
      byName(await libvirtPrechecks(vm, disks, { source: lab1, target: taken }))["libvirt on the target"],
    ).toMatchObject({
      ok: false,
      message: "lab2-taken has a domain named web1 already: undefine it there, or rename the VM",
    });
    const sameUuid = host("lab2-uuid", { names: "web1-old\n", uuids: `${UUID}\n`, nets: "default\n" });
    expect(
      byName(await libvirtPrechecks(vm, disks, { source: lab1, target: sameUuid }))["libvirt on the target"]?.ok,
    ).toBe(false);

    const noNet = host("lab2-nonet", { names: "\n", uuids: "\n", nets: "lan\n" });
    const refused = byName(await libvirtPrechecks(vm, disks, { source: lab1, target: noNet }));
    expect(refused["VM networks"]).toMatchObject({
      ok: false,
      message: expect.stringContaining("lab2-nonet has no network default; create it there or map it"),
    });
    const mapped = byName(
      await libvirtPrechecks({ ...vm, networkMap: { default: "lan" } }, disks, { source: lab1, target: noNet }),
    );
    expect(mapped["VM networks"]).toMatchObject({ ok: true, message: expect.stringContaining("default -> lan") });
  });

  it("says so when libvirt does not answer on the target", async () => {
    const down = host("lab2-down", { down: true });
    const [, target] = await libvirtPrechecks(vm, disks, { source: lab1, target: down });
    expect(target).toMatchObject({
      name: "libvirt on the target",
      ok: false,
      message:
        "libvirt does not answer on lab2-down (error: failed to connect to the hypervisor): start libvirtd there",
    });
  });
});

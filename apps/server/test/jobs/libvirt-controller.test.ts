// The libvirt controller's define and undefine on the target, against a stand-in virsh in a real /bin/sh per host
// (the commands and the XML go through a shell as over SSH). The lab runs it against a real libvirtd
// (e2e/tests/migration-vm.test.ts); this covers what the lab does not provoke: a foreign domain of the same name.
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { HostShell } from "../../src/hosts/shell.ts";
import { libvirtController } from "../../src/jobs/vm/libvirt.ts";

const root = mkdtempSync(join(tmpdir(), "bf-libvirt-ctl-"));
const UUID = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0";
const XML = `<domain type='qemu'>
  <name>web1</name>
  <uuid>${UUID}</uuid>
  <devices>
    <disk type='block' device='disk'>
      <source dev='/dev/vg0/web1-root'/>
      <target dev='hda' bus='ide'/>
    </disk>
  </devices>
</domain>
`;

/** A host with a stand-in virsh keeping one domain's XML and state in files (`domain.xml`, `state`). */
function host(name: string, domain?: { xml: string; state: string }) {
  const dir = join(root, name);
  mkdirSync(dir);
  if (domain) {
    writeFileSync(join(dir, "domain.xml"), domain.xml);
    writeFileSync(join(dir, "state"), domain.state);
  }
  writeFileSync(
    join(dir, "virsh"),
    `#!/bin/sh
shift # --quiet
d="${dir}"
has() { [ -f "$d/domain.xml" ] || { echo "error: failed to get domain 'web1'" >&2; exit 1; }; }
case "$1" in
  dumpxml) has; cat "$d/domain.xml" ;;
  domuuid) has; sed -n 's:.*<uuid>\\(.*\\)</uuid>.*:\\1:p' "$d/domain.xml" ;;
  domstate) has; cat "$d/state" ;;
  define) [ "$2" = /dev/stdin ] && cat >"$d/domain.xml"; [ -f "$d/state" ] || echo "shut off" >"$d/state" ;;
  start) has; echo running >"$d/state" ;;
  undefine) has; rm -f "$d/domain.xml" "$d/state" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`,
  );
  chmodSync(join(dir, "virsh"), 0o755);
  const shell: HostShell = {
    hostId: 1,
    name,
    run: (command, opts) =>
      new Promise((resolve, reject) => {
        const child = execFile(
          "/bin/sh",
          ["-c", command],
          { env: { PATH: `${dir}:/usr/bin:/bin` } },
          (err, out, stderr) => (err ? reject(Object.assign(new Error(stderr), { stderrTail: stderr })) : resolve(out)),
        );
        // A command that reads no input may exit before it is written.
        child.stdin?.on("error", () => {});
        child.stdin?.end(opts?.stdin ?? "");
      }),
    openByteSource: () => Promise.reject(new Error("not used")),
  };
  return { shell, file: (f: string) => join(dir, f) };
}

const disks = [{ sourceVg: "vg0", sourceLv: "web1-root", targetVg: "fast", targetLv: "web1" }];
const vm = { controller: "libvirt", domain: "web1" } as const;
const signal = new AbortController().signal;

describe("the libvirt controller on a target", () => {
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("defines the domain with its disk rewritten, undefines it again while it is shut off", async () => {
    const lab1 = host("lab1", { xml: XML, state: "running" });
    const lab2 = host("lab2");
    const control = libvirtController(vm, lab1.shell, lab2.shell, disks);
    await control.defineTarget(signal);
    expect(readFileSync(lab2.file("domain.xml"), "utf8")).toContain("<source dev='/dev/fast/web1'/>");
    await control.defineTarget(signal); // again (a resumed job): the same domain, replaced by itself
    expect(await control.undefineTarget(signal)).toBe(true);
    expect(existsSync(lab2.file("domain.xml"))).toBe(false);
    expect(await control.undefineTarget(signal)).toBe(false);
  });

  it("never replaces nor undefines another domain of the same name, nor one that runs", async () => {
    const lab1 = host("lab1b", { xml: XML, state: "shut off" });
    const other = XML.replace(UUID, "11111111-2222-3333-4444-555555555555");
    const lab2 = host("lab2b", { xml: other, state: "shut off" });
    const control = libvirtController(vm, lab1.shell, lab2.shell, disks);
    await expect(control.defineTarget(signal)).rejects.toThrow(/lab2b has another domain named web1 .*not replaced/);
    await expect(control.undefineTarget(signal)).rejects.toThrow(/another domain named web1/);
    expect(readFileSync(lab2.file("domain.xml"), "utf8")).toBe(other);

    const lab2c = host("lab2c", { xml: XML, state: "running" });
    const running = libvirtController(vm, lab1.shell, lab2c.shell, disks);
    await expect(running.undefineTarget(signal)).rejects.toThrow(/web1 is running on lab2c: not undefined/);
  });

  it("with startTarget: false leaves the defined domain shut off", async () => {
    const lab1 = host("lab1d", { xml: XML, state: "shut off" });
    const lab2 = host("lab2d");
    await libvirtController({ ...vm, startTarget: false }, lab1.shell, lab2.shell, disks).startTarget(signal);
    expect(readFileSync(lab2.file("state"), "utf8").trim()).toBe("shut off");
    const lab2e = host("lab2e");
    await libvirtController(vm, lab1.shell, lab2e.shell, disks).startTarget(signal);
    expect(readFileSync(lab2e.file("state"), "utf8").trim()).toBe("running");
  });
});

import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { HostShell } from "../../src/hosts/shell.ts";
import { virshCheck } from "../../src/jobs/prechecks.ts";

/** A host whose PATH is one directory: the tools probe runs in a real sh, as it would over SSH. */
function hostWithPath(name: string, dir: string): HostShell {
  return {
    hostId: 1,
    name,
    run: (command) =>
      new Promise((resolve, reject) =>
        execFile("/bin/sh", ["-c", command], { env: { PATH: dir } }, (err, stdout, stderr) =>
          err ? reject(new Error(stderr)) : resolve(stdout),
        ),
      ),
    openByteSource: () => Promise.reject(new Error("not used by the probe")),
  };
}

describe("the libvirt precheck", () => {
  const root = mkdtempSync(join(tmpdir(), "bf-virsh-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const withVirsh = join(root, "with");
  const without = join(root, "without");
  mkdirSync(withVirsh);
  mkdirSync(without);
  writeFileSync(join(withVirsh, "virsh"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(withVirsh, "virsh"), 0o755);

  it("passes when both hosts have virsh, and names every host that lacks it", async () => {
    const ok = await virshCheck([hostWithPath("lab1", withVirsh), hostWithPath("lab2", withVirsh)]);
    expect(ok).toMatchObject({ name: "VM control", ok: true });

    const one = await virshCheck([hostWithPath("lab1", withVirsh), hostWithPath("lab2", without)]);
    expect(one.ok).toBe(false);
    expect(one.message).toMatch(/^virsh is not installed on lab2: install libvirt-clients/);

    const both = await virshCheck([hostWithPath("lab1", without), hostWithPath("lab2", without)]);
    expect(both.message).toMatch(/^virsh is not installed on lab1 or lab2:/);
  });

  it("checks only the hosts it can reach (a retry whose target is ours already passes null)", async () => {
    const res = await virshCheck([hostWithPath("lab1", without), null]);
    expect(res.message).toMatch(/^virsh is not installed on lab1:/);
  });
});

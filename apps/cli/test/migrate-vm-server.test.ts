// `blockferry migrate --from HOST --vm DOMAIN --to HOST:VG` end to end: a real server in this process reads the
// source host's inventory over a real sshd whose PATH starts with stand-in lvs/vgs/virsh, and the command creates
// the VM's disk set from it (or refuses the VM with the inventory's reason).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host, Migration } from "@blockferry/contracts";
import type { RunningServer } from "@blockferry/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../test-support/loopback-sshd.ts";
import { lvmReportJson, lvReportRow, vgReportRow } from "../../../test-support/lvm-report.ts";
import { run } from "../src/commands/migrate.ts";
import { startServerWithOperator } from "./operator-server.ts";

const MiB = 2 ** 20;

/** Stand-in LVM and virsh: db1 on a classic and a thin LV with a CD-ROM image, files1 on an image file. */
function writeTools(dir: string): void {
  const lvs = [
    lvReportRow({ lv_name: "db1-root", lv_attr: "-wi-ao----", lv_size: String(128 * MiB) }),
    lvReportRow({ lv_name: "pool0", lv_attr: "twi-aotz--", segtype: "thin-pool", lv_size: String(2 ** 30) }),
    lvReportRow({ lv_name: "db1-data", lv_attr: "Vwi-aotz--", segtype: "thin", pool_lv: "pool0" }),
  ];
  writeFileSync(join(dir, "lvs.json"), lvmReportJson("lv", lvs));
  writeFileSync(join(dir, "vgs.json"), lvmReportJson("vg", [vgReportRow({ vg_name: "vg0" })]));
  const tool = (name: string, body: string) => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  tool("lvs", `cat '${dir}/lvs.json'`);
  tool("vgs", `cat '${dir}/vgs.json'`);
  tool(
    "virsh",
    [
      `case "$1" in`,
      `--version) echo 9.0.0;;`,
      `list) printf 'db1\\nfiles1\\n\\n';;`,
      `domblklist) case "$4" in`,
      `  db1) printf '%s\\n' ' Type Device Target Source' '---' ' block disk vda /dev/vg0/db1-root' ' block disk vdb /dev/vg0/db1-data' ' file cdrom sda /iso/x.iso';;`,
      `  files1) printf '%s\\n' ' Type Device Target Source' '---' ' file disk vda /images/files1.qcow2';;`,
      `  esac;;`,
      `domstate) echo running;;`,
      `esac`,
    ].join("\n"),
  );
}

describe("blockferry migrate --vm against a real server and sshd", () => {
  const root = mkdtempSync(join(tmpdir(), "bf-cli-vm-"));
  let server: RunningServer;
  let sshd: LoopbackSshd;
  let token = "";

  beforeAll(async () => {
    writeTools(root);
    sshd = await startLoopbackSshd({ path: `${root}:/usr/bin:/bin` });
    ({ server, token } = await startServerWithOperator(root));
    const admin = await server.runtime.auth.accounts.create({
      username: "ada",
      password: "ada password 1",
      role: "admin",
    });
    const adminToken = server.runtime.auth.tokens.create(
      { name: "cli-admin", role: "admin" },
      { userId: admin.id, username: admin.username, role: admin.role, via: "session" },
      { name: "ada", address: null },
    ).token;
    const api = async (path: string, body: unknown) => {
      const res = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    for (const name of ["hv-a", "hv-b"]) {
      const added = (await api("/api/hosts", {
        name,
        address: sshd.host,
        port: sshd.port,
        username: sshd.username,
        privateKey: sshd.privateKey,
      })) as { host: Host; fingerprint: string };
      await api(`/api/hosts/${added.host.id}/trust`, { fingerprint: added.fingerprint });
    }
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await sshd?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  /** The command's exit code and what it printed. */
  const migrate = async (...args: string[]) => {
    let out = "";
    let err = "";
    const o = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
      out += String(s);
      return true;
    });
    const e = vi.spyOn(process.stderr, "write").mockImplementation((s) => {
      err += String(s);
      return true;
    });
    try {
      const code = await run([...args, "--no-follow", "--server", server.url, "--token", token]);
      return { code, out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  };

  it("creates the VM's disk set from the inventory, libvirt in control, the CD-ROM image named as not moved", async () => {
    const r = await migrate("--from", "hv-a", "--vm", "db1", "--to", "hv-b:vg1", "--thin-pool", "pool1");
    expect(r.err).toBe("not moved: sda: a cdrom image (/iso/x.iso), not moved: the target needs it at the same path\n");
    expect(r.code).toBe(0);
    const id = Number(/migration (\d+) created/.exec(r.out)?.[1]);
    const job = (await (
      await fetch(`${server.url}/api/migrations/${id}`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as Migration;
    expect(job.vm).toEqual({ controller: "libvirt", domain: "db1" });
    expect(
      job.disks.map((d) => `${d.source.vg}/${d.source.lv} -> ${d.target.vg}/${d.target.lv} ${d.target.thinPool}`),
    ).toEqual(["vg0/db1-root -> vg1/db1-root pool1", "vg0/db1-data -> vg1/db1-data pool1"]);
  });

  it("refuses a VM the inventory says cannot move, and a domain the host does not have", async () => {
    const files = await migrate("--from", "hv-a", "--vm", "files1", "--to", "hv-b:vg1");
    expect(files.code).toBe(1);
    expect(files.err).toBe(
      "blockferry migrate: --vm files1 cannot be migrated: disk vda: a file (/images/files1.qcow2), not a logical volume: only LVs can be migrated (the VM cannot start without it)\n",
    );
    const none = await migrate("--from", "hv-a", "--vm", "web9", "--to", "hv-b:vg1");
    expect(none.err).toBe(
      'blockferry migrate: --vm: no libvirt domain "web9" on the source host (it has db1, files1)\n',
    );
  });
});

import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LabHost, labExec, labHost, rebootHost, rekeyHost } from "../harness.ts";
import { labPair } from "../pairs.ts";
import { sshExec } from "../ssh.ts";

// As they are now, not as global setup booted them: an earlier file may have powered a host off and on (new pid)
// or rotated its key.
const hosts = await Promise.all(labPair().hosts.map((h) => labHost(h.labDir, h.name)));
const [lab1, lab2] = hosts as [LabHost, LabHost];

/** Runs on lab1 and returns stdout, trimmed. */
const sh = async (command: string, host: LabHost = lab1) => (await labExec(host, command)).stdout.trim();

interface SnapshotStatus {
  allocated: number;
  total: number;
  metadata: number;
}

function parseSnapshotStatus(line: string): SnapshotStatus {
  const match = /snapshot (\d+)\/(\d+) (\d+)/.exec(line);
  if (!match) throw new Error(`not a snapshot status line: ${line}`);
  return { allocated: Number(match[1]), total: Number(match[2]), metadata: Number(match[3]) };
}

const created: Array<[LabHost, string]> = [];
/** `lvcreate ARGS -n NAME` (ARGS names the VG or the origin/pool); the LV is removed after the tests. */
async function lvcreate(args: string, name: string, host: LabHost = lab1): Promise<void> {
  await sh(`lvcreate -q -y ${args} -n ${name}`, host);
  created.unshift([host, name]);
}

afterAll(async () => {
  for (const [host, name] of created) {
    await labExec(await labHost(host.labDir, host.name), `lvremove -q -y vg0/${name}`, { allowFailure: true });
  }
});

describe("lab hosts", () => {
  it("have the volume group vg0 on their PV disk", async () => {
    for (const host of hosts) {
      const report = JSON.parse(await sh("vgs --reportformat json -o vg_name,pv_count,vg_size --units b vg0", host));
      expect(report.report[0].vg[0]).toMatchObject({ vg_name: "vg0", pv_count: "1" });
    }
  });

  it("reach each other's sshd on the private link, at an address the server does not use", async () => {
    expect(lab1.privateAddress).toBe("10.77.0.1");
    expect(lab2.privateAddress).toBe("10.77.0.2");
    // ssh-keyscan from lab1 gets lab2's host key from lab2's sshd at its private address.
    const scanned = await sh(`ssh-keyscan -T 20 -t ed25519 ${lab2.privateAddress} 2>/dev/null`);
    expect(scanned).toBe(`${lab2.privateAddress} ${lab2.hostPublicKey.split(" ").slice(0, 2).join(" ")}`);
    expect(await sh("command -v ssh")).toBe("/usr/bin/ssh");
  });

  it("are qemu with TCG, never KVM", () => {
    for (const host of hosts) {
      const argv = readFileSync(`/proc/${host.pid}/cmdline`, "utf8").split("\0");
      expect(argv[argv.indexOf("-accel") + 1]).toBe("tcg");
      expect(argv.join(" ")).not.toMatch(/kvm/i);
      const fds = readdirSync(`/proc/${host.pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${host.pid}/fd/${fd}`);
        } catch {
          return "";
        }
      });
      expect(fds).not.toContain("/dev/kvm");
    }
  });
});

// lab1 and lab2 work at the same time (one vCPU each). lab1 tests use separate LVs and may overlap;
// lab2 tests kill sshd and reboot, so they run one after another.
describe.concurrent("lab hosts, side by side", () => {
  describe("lab1: LVM and device-mapper", () => {
    it("store and read back a linear LV with GNU dd and sha256sum", async () => {
      await lvcreate("-L 16m vg0", "t_linear");
      expect(await sh("lvs --noheadings -o segtype vg0/t_linear")).toBe("linear");
      const written = await sh(
        "dd if=/dev/urandom of=/tmp/t.bin bs=1M count=4 status=none && dd if=/tmp/t.bin of=/dev/vg0/t_linear bs=1M oflag=direct status=none && sha256sum </tmp/t.bin",
      );
      const read = await sh("dd if=/dev/vg0/t_linear bs=1M count=4 iflag=direct status=none | sha256sum");
      expect(read).toBe(written);
    });

    it("count the chunks written under a classic snapshot in dmsetup status", async () => {
      await lvcreate("-L 32m vg0", "t_origin");
      await lvcreate("-s -L 16m -c 64k vg0/t_origin", "t_snap");
      const before = parseSnapshotStatus(await sh("dmsetup status vg0-t_snap"));
      const chunkSectors = (64 * 1024) / 512;
      const chunks = [1, 7, 19, 200, 311];
      await sh(
        chunks
          .map(
            (c) =>
              `dd if=/dev/urandom of=/dev/vg0/t_origin bs=64K count=1 seek=${c} oflag=direct conv=notrunc status=none`,
          )
          .join(" && "),
      );
      const after = parseSnapshotStatus(await sh("dmsetup status vg0-t_snap"));
      expect(after.allocated - before.allocated).toBe(chunks.length * chunkSectors);
      expect(after.total).toBe(before.total);
      // Writing a chunk again copies nothing more: the snapshot already holds its old content.
      await sh("dd if=/dev/urandom of=/dev/vg0/t_origin bs=64K count=1 seek=7 oflag=direct conv=notrunc status=none");
      expect(parseSnapshotStatus(await sh("dmsetup status vg0-t_snap")).allocated).toBe(after.allocated);
      // The COW store is the real on-disk format: it starts with the "SnAp" magic.
      expect(await sh("dd if=/dev/mapper/vg0-t_snap-cow bs=4 count=1 status=none | od -An -c | tr -d ' '")).toBe(
        "SnAp",
      );
    });

    it("report changed thin blocks with thin_delta -m after reserve_metadata_snap", async () => {
      await lvcreate("-L 64m -T --chunksize 64k vg0", "t_pool");
      await lvcreate("-V 32m -T vg0/t_pool", "t_thin");
      await sh("dd if=/dev/urandom of=/dev/vg0/t_thin bs=64K count=16 oflag=direct status=none");
      await sh("lvcreate -q -y -s -kn -n t_tsnap vg0/t_thin");
      created.unshift([lab1, "t_tsnap"]);
      for (const block of [3, 10, 11]) {
        await sh(
          `dd if=/dev/urandom of=/dev/vg0/t_thin bs=64K count=1 seek=${block} oflag=direct conv=notrunc status=none`,
        );
      }
      const ids = await sh("lvs --noheadings -o thin_id vg0/t_tsnap vg0/t_thin");
      const [snapId, thinId] = ids.split(/\s+/).map(Number);
      await sh("dmsetup message vg0-t_pool-tpool 0 reserve_metadata_snap");
      let delta: string;
      try {
        delta = await sh(`thin_delta -m --snap1 ${snapId} --snap2 ${thinId} /dev/mapper/vg0-t_pool_tmeta`);
      } finally {
        await sh("dmsetup message vg0-t_pool-tpool 0 release_metadata_snap");
      }
      const different = [...delta.matchAll(/<different begin="(\d+)" length="(\d+)"/g)].map((m) => [
        Number(m[1]),
        Number(m[2]),
      ]);
      expect(different).toEqual([
        [3, 1],
        [10, 2],
      ]);
      // Released: a second reserve works again (the kernel refuses two at once).
      await sh(
        "dmsetup message vg0-t_pool-tpool 0 reserve_metadata_snap && dmsetup message vg0-t_pool-tpool 0 release_metadata_snap",
      );
    });
  });

  describe("lab2: sshd, the workload, host keys, reboot", () => {
    it.sequential("bring sshd back within a second or two when it is killed", async () => {
      const before = await sh("cat /run/sshd.pid", lab2);
      await sh(`kill ${before}`, lab2);
      // The running session is multiplexed over a connection the old sshd forked: it survives the kill.
      const deadline = Date.now() + 10_000;
      let after = before;
      while ((after === before || after === "") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        after = await sh("cat /run/sshd.pid 2>/dev/null || true", lab2);
      }
      expect(after).toMatch(/^\d+$/);
      expect(after).not.toBe(before);
      expect(await sshBanner(lab2.port)).toMatch(/^SSH-2\.0-OpenSSH/);
    });

    it.sequential("run the workload until stopped, then leave the LV quiet", async () => {
      await lvcreate("-L 16m vg0", "t_vm", lab2);
      expect(await sh("bf-workload start /dev/vg0/t_vm 256", lab2)).toMatch(/^started/);
      // Wait for its first write (a fixed sleep saw writes=0 on a loaded machine).
      let status = await sh("bf-workload status", lab2);
      for (const deadline = Date.now() + 60_000; /writes=0\b/.test(status) && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 200));
        status = await sh("bf-workload status", lab2);
      }
      expect(status).toMatch(/^running \/dev\/vg0\/t_vm 256KiB\/s writes=[1-9]/);
      expect(await sh("bf-workload stop", lab2)).toBe("stopped");
      const stopped = await labExec(lab2, "bf-workload status", { allowFailure: true });
      expect([stopped.code, stopped.stdout.trim()]).toEqual([3, "stopped"]);
      const first = await sh("sha256sum </dev/vg0/t_vm", lab2);
      await new Promise((r) => setTimeout(r, 500));
      expect(await sh("sha256sum </dev/vg0/t_vm", lab2)).toBe(first);
    });

    it.sequential("rotate the host key on rekey, then keep LVs and that key across a reboot", async () => {
      await lvcreate("-L 16m vg0", "t_persist", lab2);
      const sum = await sh(
        "dd if=/dev/urandom of=/dev/vg0/t_persist bs=1M count=2 oflag=direct status=none && sha256sum </dev/vg0/t_persist",
        lab2,
      );
      const guestFingerprint = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2";

      const rekeyed = await rekeyHost(lab2);
      expect(rekeyed.hostKeyFingerprintSha256).not.toBe(lab2.hostKeyFingerprintSha256);
      expect(await sh(guestFingerprint, rekeyed)).toBe(rekeyed.hostKeyFingerprintSha256);
      // A client still pinned to the old key must refuse the host.
      const stale = join(mkdtempSync(join(tmpdir(), "lab-pin-")), "known_hosts");
      writeFileSync(stale, `[127.0.0.1]:${lab2.port} ${lab2.hostPublicKey}\n`);
      const refused = await sshExec({ ...rekeyed, knownHostsPath: stale }, "true", {
        allowFailure: true,
        multiplex: false,
      });
      expect(refused.code).toBe(255);
      expect(refused.stderr).toMatch(/host key/i);

      const rebooted = await rebootHost(rekeyed);
      expect(rebooted.pid).not.toBe(lab2.pid);
      expect(rebooted.hostKeyFingerprintSha256).toBe(rekeyed.hostKeyFingerprintSha256);
      expect(await sh(guestFingerprint, rebooted)).toBe(rekeyed.hostKeyFingerprintSha256);
      expect(await sh("lvs --noheadings -o lv_active vg0/t_persist", rebooted)).toBe("active");
      expect(await sh("sha256sum </dev/vg0/t_persist", rebooted)).toBe(sum);
    });
  });
});

function sshBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(5000, () => reject(new Error("no banner")));
    socket.once("data", (data: Buffer) => {
      socket.destroy();
      resolve(data.toString("latin1"));
    });
    socket.once("error", reject);
    socket.once("close", () => reject(new Error("closed before the banner")));
  });
}

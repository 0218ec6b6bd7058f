// readInventory end to end through a real /bin/sh: stand-in lvs/vgs/dmsetup/virsh print what the real tools
// print (LVM 2.03 JSON, dmsetup lines), so the sectioned script, framing and parsers are all exercised.
// The same function against a real LVM host is proved in e2e/tests/hosts-inventory.test.ts.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Inventory } from "@blockferry/contracts";
import { Value } from "typebox/value";
import { afterAll, describe, expect, it } from "vitest";
import { startLoopbackSshd } from "../../../../test-support/loopback-sshd.ts";
import { lvmReportJson, lvReportRow } from "../../../../test-support/lvm-report.ts";
import { INVENTORY_MAX_OUTPUT_BYTES, OutputLimitError, RemoteHosts, readInventory } from "../../src/hosts/index.ts";
import { endpointOf } from "./sshd-fixture.ts";

const dir = mkdtempSync(join(tmpdir(), "bf-inv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lv = lvReportRow;
const special = [
  lv({ lv_name: "vm-1", lv_attr: "owi-aos---" }),
  lv({
    lv_name: "vm-1-bf",
    lv_attr: "swi-a-s---",
    origin: "vm-1",
    snap_percent: "1.56",
    chunk_size: "4096",
    lv_tags: "blockferry,bf-job-9",
    lv_size: "16777216",
  }),
  lv({ lv_name: "vm-1-old", lv_attr: "swi-I-s---", origin: "vm-1", snap_percent: "100.00", chunk_size: "4096" }),
  lv({
    lv_name: "pool",
    lv_attr: "twi-aotz--",
    segtype: "thin-pool",
    data_percent: "2.00",
    metadata_percent: "10.50",
    chunk_size: "65536",
  }),
  lv({ lv_name: "thin1", lv_attr: "Vwi-a-tz--", segtype: "thin", pool_lv: "pool", data_percent: "4.00", thin_id: "1" }),
  lv({ lv_name: "thin1-s", lv_attr: "Vwi---tz-k", segtype: "thin", pool_lv: "pool", origin: "thin1", thin_id: "2" }),
];
// The first filler LV was migrated away by job 12 (the tag cleanup puts on a kept source LV).
const filler = Array.from({ length: 494 }, (_, i) =>
  lv({ lv_name: `vm-${100 + i}-disk-0`, lv_uuid: `u${i}`, lv_tags: i === 0 ? "owner=ops,blockferry_migrated_12" : "" }),
);
const lvsJson = lvmReportJson("lv", [...special, ...filler], { indent: 2 });
const vgsJson = JSON.stringify({
  report: [
    {
      vg: [
        {
          vg_name: "vg0",
          vg_uuid: "vgu",
          vg_attr: "wz--n-",
          vg_size: "107374182400",
          vg_free: "1073741824",
          vg_extent_size: "4194304",
          vg_extent_count: "25600",
          vg_free_count: "256",
          pv_count: "1",
          lv_count: "500",
          vg_tags: "",
        },
      ],
    },
  ],
});
const dmStatus = [
  "vg0-vm--1: 0 131072 snapshot-origin ",
  "vg0-vm--1-real: 0 131072 linear ",
  "vg0-vm--1--bf: 0 131072 snapshot 528/32768 16",
  "vg0-vm--1--bf-cow: 0 32768 linear ",
  "vg0-vm--1--old: 0 131072 snapshot Invalid",
  "vg0-pool: 0 131072 linear ",
  "vg0-pool-tpool: 0 131072 thin-pool 2 14/4096 20/1024 77 rw no_discard_passdown queue_if_no_space - 1024",
  "vg0-thin1: 0 2097152 thin 81920 2097151",
].join("\n");

function tool(name: string, body: string): void {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
}
writeFileSync(join(dir, "lvs.json"), lvsJson);
writeFileSync(join(dir, "vgs.json"), vgsJson);
writeFileSync(join(dir, "dm.txt"), `${dmStatus}\n`);
tool("lvs", `cat '${dir}/lvs.json'`);
tool("vgs", `cat '${dir}/vgs.json'`);
tool("lvm", `printf '  LVM version:     2.03.16(2) (2022-05-18)\\n  Library version: 1.02.185 (2022-05-18)\\n'`);
tool(
  "dmsetup",
  `case "$1" in --version) printf 'Library version:   1.02.185\\nDriver version:    4.47.0\\n';; status) cat '${dir}/dm.txt';; *) exit 1;; esac`,
);
tool("thin_delta", `echo 0.9.0`);
tool(
  "virsh",
  [
    `case "$1" in`,
    `--version) echo 9.0.0;;`,
    `list) printf 'web1\\nfiles\\nweird '"'"'name\\n\\n';;`,
    `domblklist) case "$4" in`,
    // A VM on a classic LV (by its /dev/VG/LV path) and a thin LV (by its /dev/mapper name), with an installer ISO.
    `  web1) printf ' Type   Device   Target   Source\\n------------------------\\n block  disk  vda  /dev/vg0/vm-1\\n block  disk  vdb  /dev/mapper/vg0-thin1\\n file   cdrom  sda  /srv/iso/debian 12.iso\\n\\n';;`,
    // A VM on an image file, with a network disk: both keep it where it is.
    `  files) printf ' Type   Device   Target   Source\\n------------------------\\n file  disk  vda  /var/lib/libvirt/images/files.qcow2\\n network  disk  vdb  rbd/files-data\\n\\n';;`,
    `  *) echo "error: failed to get domain '$4'" >&2; exit 1;;`,
    `  esac;;`,
    `domstate) case "$3" in web1) printf 'running\\n\\n';; files) printf 'shut off\\n\\n';; *) exit 1;; esac;;`,
    `esac`,
  ].join("\n"),
);

symlinkSync("/bin/cat", join(dir, "cat"));
symlinkSync("/usr/bin/sha256sum", join(dir, "sha256sum"));

/** Run the command like sshd would: `sh -c`, with only the stand-ins on PATH (no b2sum: it must come out null). */
const localExec = async (command: string) => {
  const r = spawnSync("/bin/sh", ["-c", command], { env: { PATH: dir }, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), code: 0 };
};

describe("readInventory", () => {
  it("assembles VGs, LVs, snapshots, thin pools, domains and tool versions in two round trips", async () => {
    const commands: string[] = [];
    const inv = await readInventory(async (c) => {
      commands.push(c);
      return localExec(c);
    });
    expect(commands).toHaveLength(2);
    expect(Value.Check(Inventory, inv)).toBe(true);
    expect(inv.vgs).toEqual([
      {
        name: "vg0",
        uuid: "vgu",
        sizeBytes: 107374182400,
        freeBytes: 1073741824,
        extentSizeBytes: 4194304,
        extentCount: 25600,
        freeExtentCount: 256,
        pvCount: 1,
        lvCount: 500,
        tags: [],
      },
    ]);
    expect(inv.lvs).toHaveLength(500);
    expect(inv.lvs[6]).toMatchObject({ name: "vm-100-disk-0", migratedAway: { jobId: 12 } });
    expect(inv.lvs.filter((l) => l.migratedAway !== null)).toHaveLength(1);
    expect(inv.lvs[1]).toMatchObject({
      name: "vm-1-bf",
      path: "/dev/vg0/vm-1-bf",
      dmName: "vg0-vm--1--bf",
      kind: "snapshot",
      tags: ["blockferry", "bf-job-9"],
    });
    expect(inv.snapshots).toEqual([
      {
        vg: "vg0",
        name: "vm-1-bf",
        origin: "vm-1",
        type: "cow",
        sizeBytes: 16777216,
        chunkSizeBytes: 4096,
        fillPercent: 1.56,
        state: "valid",
        allocatedSectors: 528,
        totalSectors: 32768,
        metadataSectors: 16,
        tags: ["blockferry", "bf-job-9"],
      },
      {
        vg: "vg0",
        name: "vm-1-old",
        origin: "vm-1",
        type: "cow",
        sizeBytes: 67108864,
        chunkSizeBytes: 4096,
        fillPercent: 100,
        state: "invalid",
        allocatedSectors: null,
        totalSectors: null,
        metadataSectors: null,
        tags: [],
      },
      {
        vg: "vg0",
        name: "thin1-s",
        origin: "thin1",
        type: "thin",
        sizeBytes: 67108864,
        chunkSizeBytes: null,
        fillPercent: null,
        state: "valid",
        allocatedSectors: null,
        totalSectors: null,
        metadataSectors: null,
        tags: [],
      },
    ]);
    expect(inv.thinPools).toEqual([
      {
        vg: "vg0",
        name: "pool",
        sizeBytes: 67108864,
        chunkSizeBytes: 65536,
        dataPercent: 2,
        metadataPercent: 10.5,
        transactionId: 2,
        heldMetadataRoot: 77,
        mode: "rw",
        needsCheck: false,
        tags: [],
      },
    ]);
    expect(inv.tools).toEqual({
      lvm: "2.03.16",
      dmsetup: "1.02.185",
      thinDelta: "0.9.0",
      sha256sum: expect.any(String),
      b2sum: null,
      virsh: "9.0.0",
    });
    expect(inv.domains).toEqual([
      {
        name: "web1",
        state: "running",
        disks: [
          {
            type: "block",
            device: "disk",
            target: "vda",
            source: "/dev/vg0/vm-1",
            volume: { vg: "vg0", lv: "vm-1", sizeBytes: 67108864, kind: "classic" },
            refused: null,
          },
          {
            type: "block",
            device: "disk",
            target: "vdb",
            source: "/dev/mapper/vg0-thin1",
            volume: { vg: "vg0", lv: "thin1", sizeBytes: 67108864, kind: "thin" },
            refused: null,
          },
          {
            type: "file",
            device: "cdrom",
            target: "sda",
            source: "/srv/iso/debian 12.iso",
            volume: null,
            refused: {
              reason: "a cdrom image (/srv/iso/debian 12.iso), not moved: the target needs it at the same path",
              blocksVm: false,
            },
          },
        ],
        error: null,
        refusal: null,
      },
      {
        name: "files",
        state: "shut off",
        disks: [
          {
            type: "file",
            device: "disk",
            target: "vda",
            source: "/var/lib/libvirt/images/files.qcow2",
            volume: null,
            refused: {
              reason: "a file (/var/lib/libvirt/images/files.qcow2), not a logical volume: only LVs can be migrated",
              blocksVm: true,
            },
          },
          {
            type: "network",
            device: "disk",
            target: "vdb",
            source: "rbd/files-data",
            volume: null,
            refused: {
              reason: "a network disk (rbd/files-data), not a logical volume: only LVs can be migrated",
              blocksVm: true,
            },
          },
        ],
        error: null,
        refusal:
          "disk vda: a file (/var/lib/libvirt/images/files.qcow2), not a logical volume: only LVs can be migrated; disk vdb: a network disk (rbd/files-data), not a logical volume: only LVs can be migrated (the VM cannot start without it)",
      },
      {
        name: "weird 'name",
        state: null,
        disks: [],
        error: "virsh domblklist failed: error: failed to get domain 'weird 'name'",
        refusal: "its disks could not be listed (virsh domblklist failed: error: failed to get domain 'weird 'name')",
      },
    ]);
    expect(inv.warnings).toEqual([]);
  });

  it("500 LVs: measures the whole inventory (local shell, no SSH) and the parse alone", async () => {
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await readInventory(localExec);
    const whole = (performance.now() - t0) / 5;
    console.log(
      JSON.stringify({ measure: "readInventory 500 LVs via local sh (2 round trips, no ssh)", ms: Math.round(whole) }),
    );
    expect(whole).toBeLessThan(3000); // sanity bound; the figure is logged
  });

  it("fails loudly when lvs itself fails", async () => {
    await expect(
      readInventory(async (c) => localExec(c.replace(/LVM_SUPPRESS_FD_WARNINGS=1 'lvs'/, "false"))),
    ).rejects.toThrow(/lvs failed/);
  });
});

describe("readInventory over a real sshd", () => {
  it("answers for 500 LVs from a warm connection", async () => {
    const sshd = await startLoopbackSshd({ path: dir });
    const hosts = new RemoteHosts();
    try {
      hosts.register("h", endpointOf(sshd));
      await hosts.exec("h", "true"); // warm
      const times: number[] = [];
      let inv: Awaited<ReturnType<typeof hosts.inventory>> | undefined;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        inv = await hosts.inventory("h");
        times.push(performance.now() - t0);
      }
      expect(inv?.lvs).toHaveLength(500);
      expect(inv?.domains?.map((d) => d.name)).toEqual(["web1", "files", "weird 'name"]);
      const best = Math.min(...times);
      console.log(
        JSON.stringify({
          measure: "inventory 500 LVs over loopback ssh (warm)",
          ms: times.map(Math.round),
          bestMs: Math.round(best),
        }),
      );
      expect(best).toBeLessThan(3000); // sanity bound (shared CI machine); the figure is logged
    } finally {
      await hosts.close();
      await sshd.stop();
    }
  });
});

describe("inventory output cap", () => {
  it("kills an inventory whose output passes the cap and rejects with OutputLimitError, never buffering 256 MiB", async () => {
    // A host whose lvs prints 16 MiB (a broken tool, or far more LVs than any hypervisor has).
    const noisy = mkdtempSync(join(tmpdir(), "bf-inv-noisy-"));
    const sshd = await startLoopbackSshd({ path: noisy });
    const hosts = new RemoteHosts();
    try {
      writeFileSync(
        join(noisy, "lvs"),
        "#!/bin/sh\n/usr/bin/yes blockferry-inventory-flood | /usr/bin/head -c 16777216\n",
      );
      chmodSync(join(noisy, "lvs"), 0o755);
      hosts.register("h", endpointOf(sshd));
      const err = await hosts.inventory("h").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OutputLimitError);
      expect(err).toMatchObject({ code: "REMOTE_OUTPUT_TOO_LARGE", maxOutputBytes: INVENTORY_MAX_OUTPUT_BYTES });
      expect(INVENTORY_MAX_OUTPUT_BYTES).toBe(4 << 20);
    } finally {
      await hosts.close();
      await sshd.stop();
      rmSync(noisy, { recursive: true, force: true });
    }
  });
});

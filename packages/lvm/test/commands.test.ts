import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import {
  blockdevSizeCommand,
  dmsetupStatusCommand,
  InvalidValueError,
  jobTag,
  killProcessGroupCommand,
  LV_REPORT_FIELDS,
  lvchangeCommand,
  lvcreateLinearCommand,
  lvcreateSnapshotCommand,
  lvcreateThinCommand,
  lvcreateThinPoolCommand,
  lvcreateThinSnapshotCommand,
  lvextendCommand,
  lvremoveCommand,
  lvsCommand,
  PGID_MARKER,
  parseSections,
  sectionedCommand,
  shQuote,
  thinDeltaCommand,
  thinPoolMetadataSnapCommand,
  toolsPresentCommand,
  validateLvName,
  validateRemotePath,
  validateTag,
  validateVgName,
  vgsCommand,
  virshDomblklistCommand,
  virshDomstateCommand,
  withProcessGroupReport,
} from "../src/index.ts";
import { makeStubShell } from "./stub-tools.ts";

const sh = makeStubShell();
afterAll(() => sh.cleanup());
const vg = validateVgName("vg-0");
const lv = validateLvName("vm1");
const snap = validateLvName("vm1-bf-snap");

describe("command templates run under the real /bin/sh", () => {
  it("lvs/vgs ask for JSON in bytes without suffix", () => {
    const r = sh.run(lvsCommand({ vg }));
    expect(r.calls).toEqual([
      ["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", LV_REPORT_FIELDS.join(","), "vg-0"],
    ]);
    expect(sh.run(lvsCommand({ tag: validateTag("blockferry") })).calls[0]?.at(-1)).toBe("@blockferry");
    expect(sh.run(vgsCommand()).calls[0]?.slice(0, 6)).toEqual([
      "vgs",
      "--reportformat",
      "json",
      "--units",
      "b",
      "--nosuffix",
    ]);
  });

  it("lvcreate snapshot carries size, chunk size and the blockferry tags", () => {
    const cmd = lvcreateSnapshotCommand({
      vg,
      origin: lv,
      name: snap,
      sizeBytes: 1n << 30n,
      chunkSizeBytes: 65536,
      tags: [jobTag(12)],
    });
    expect(sh.run(cmd).calls).toEqual([
      [
        "lvcreate",
        "--snapshot",
        "--name",
        "vm1-bf-snap",
        "--size",
        "1073741824b",
        "--chunksize",
        "65536b",
        "--addtag",
        "blockferry",
        "--addtag",
        "bf-job-12",
        "vg-0/vm1",
      ],
    ]);
    expect(() =>
      lvcreateSnapshotCommand({ vg, origin: lv, name: snap, sizeBytes: 4096, chunkSizeBytes: 12288 }),
    ).toThrow(/power of two/);
    expect(() =>
      lvcreateSnapshotCommand({ vg, origin: lv, name: snap, sizeBytes: 4096, chunkSizeBytes: 2048 }),
    ).toThrow(/at least 4096/);
    expect(() => lvcreateSnapshotCommand({ vg, origin: lv, name: snap, sizeBytes: 1.5 })).toThrow(InvalidValueError);
    expect(() => lvcreateSnapshotCommand({ vg, origin: lv, name: snap, sizeBytes: -512 })).toThrow(InvalidValueError);
    expect(() => lvcreateSnapshotCommand({ vg, origin: lv, name: snap, sizeBytes: 1000 })).toThrow(/multiple of 512/);
  });

  it("lvcreate linear / thin pool / thin / thin snapshot, lvremove, lvextend, lvchange", () => {
    const pool = validateLvName("pool");
    const calls = sh.run(
      [
        lvcreateLinearCommand({ vg, name: lv, sizeBytes: 8 << 20 }),
        lvcreateThinPoolCommand({ vg, name: pool, sizeBytes: 64 << 20, chunkSizeBytes: 65536 }),
        lvcreateThinCommand({ vg, pool, name: lv, virtualSizeBytes: 1 << 30 }),
        lvcreateThinSnapshotCommand({ vg, origin: lv, name: snap }),
        lvremoveCommand({ vg, lv: snap }),
        lvextendCommand({ vg, lv, sizeBytes: 16 << 20 }),
        lvchangeCommand({ vg, lv: snap, activate: true, ignoreActivationSkip: true, addTags: [jobTag("a")] }),
      ].join("; "),
    ).calls;
    expect(calls).toEqual([
      [
        "lvcreate",
        "--yes",
        "--type",
        "linear",
        "--name",
        "vm1",
        "--size",
        "8388608b",
        "--addtag",
        "blockferry",
        "vg-0",
      ],
      [
        "lvcreate",
        "--yes",
        "--type",
        "thin-pool",
        "--name",
        "pool",
        "--size",
        "67108864b",
        "--chunksize",
        "65536b",
        "--addtag",
        "blockferry",
        "vg-0",
      ],
      [
        "lvcreate",
        "--yes",
        "--type",
        "thin",
        "--name",
        "vm1",
        "--virtualsize",
        "1073741824b",
        "--thinpool",
        "pool",
        "--addtag",
        "blockferry",
        "vg-0",
      ],
      ["lvcreate", "--snapshot", "--name", "vm1-bf-snap", "--addtag", "blockferry", "vg-0/vm1"],
      ["lvremove", "--yes", "vg-0/vm1-bf-snap"],
      ["lvextend", "--size", "16777216b", "vg-0/vm1"],
      ["lvchange", "--activate", "y", "--ignoreactivationskip", "--addtag", "bf-job-a", "vg-0/vm1-bf-snap"],
    ]);
  });

  it("dmsetup and thin_delta use device-mapper names", () => {
    const pool = validateLvName("thin-pool");
    const calls = sh.run(
      [
        dmsetupStatusCommand("vg--0-vm1--bf--snap"),
        thinPoolMetadataSnapCommand(vg, pool, "reserve"),
        thinDeltaCommand({ vg, pool, snap1: 1, snap2: 2 }),
        thinPoolMetadataSnapCommand(vg, pool, "release"),
      ].join("; "),
    ).calls;
    expect(calls).toEqual([
      ["dmsetup", "status", "vg--0-vm1--bf--snap"],
      ["dmsetup", "message", "vg--0-thin--pool-tpool", "0", "reserve_metadata_snap"],
      ["thin_delta", "-m", "--snap1", "1", "--snap2", "2", "/dev/mapper/vg--0-thin--pool_tmeta"],
      ["dmsetup", "message", "vg--0-thin--pool-tpool", "0", "release_metadata_snap"],
    ]);
    expect(() => dmsetupStatusCommand("-x")).toThrow(InvalidValueError);
    expect(() => dmsetupStatusCommand("a b")).toThrow(InvalidValueError);
  });

  it("blockdev size is read by path", () => {
    const path = validateRemotePath("/dev/vg-0/vm1");
    expect(sh.run(blockdevSizeCommand(path)).calls).toEqual([["blockdev", "--getsize64", "/dev/vg-0/vm1"]]);
  });

  it("virsh domain names are quoted after --", () => {
    expect(sh.run(virshDomblklistCommand("web 1 'prod'")).calls).toEqual([
      ["virsh", "domblklist", "--details", "--", "web 1 'prod'"],
    ]);
    expect(sh.run(virshDomstateCommand("web 1 'prod'")).calls).toEqual([["virsh", "domstate", "--", "web 1 'prod'"]]);
  });
});

describe("sections: several commands in one round trip", () => {
  it("frames each command's stdout, stderr and status, whatever they print", () => {
    const nonce = "0123456789abcdef";
    const cmd = sectionedCommand(nonce, [
      { key: "a", command: "printf 'one\\ntwo'" },
      { key: "b", command: "echo out; echo err >&2; exit 3" },
      { key: "c", command: "printf '@@bf:fake:end:c\\n\\n'" },
      { key: "d", command: 'cat; read x; echo "[$x]"' },
    ]);
    const r = spawnSync("/bin/sh", ["-c", cmd], { input: "stdin must not reach sections\n" });
    const s = parseSections(r.stdout.toString(), nonce);
    expect(s.get("a")).toEqual({ stdout: "one\ntwo", stderr: "", exitCode: 0 });
    expect(s.get("b")).toEqual({ stdout: "out\n", stderr: "err", exitCode: 3 });
    expect(s.get("c")).toEqual({ stdout: "@@bf:fake:end:c\n\n", stderr: "", exitCode: 0 });
    expect(s.get("d")).toEqual({ stdout: "[]\n", stderr: "", exitCode: 0 });
  });
  it("refuses keys and nonces that could break the framing", () => {
    expect(() => sectionedCommand("xyz", [])).toThrow(InvalidValueError);
    expect(() => sectionedCommand("0123456789abcdef", [{ key: "a'b", command: "true" }])).toThrow(InvalidValueError);
  });
});

describe("process group report and kill", () => {
  it("announces the shell's PID as the process group, and the kill command quotes the negative id", () => {
    const r = spawnSync("setsid", ["/bin/sh", "-c", withProcessGroupReport("echo hi")]);
    const err = r.stderr.toString();
    expect(err.startsWith(PGID_MARKER)).toBe(true);
    expect(err.slice(PGID_MARKER.length)).toMatch(/^\d+\n$/);
    expect(r.stdout.toString()).toBe("hi\n");
    expect(killProcessGroupCommand(1234)).toBe(
      `kill -s TERM -- '-1234' 2>/dev/null || kill -s TERM '1234' 2>/dev/null || true`,
    );
    expect(() => killProcessGroupCommand(1)).toThrow(InvalidValueError);
  });
  it("shQuote survives every quote character", () => {
    const v = `a'b"c\\d$e\`f`;
    expect(spawnSync("/bin/sh", ["-c", `printf '%s' ${shQuote(v)}`]).stdout.toString()).toBe(v);
  });
});

describe("toolsPresentCommand", () => {
  it("names the missing tools under a real /bin/sh and ends with `checked`", () => {
    const r = spawnSync("/bin/sh", ["-c", toolsPresentCommand(["sh", "dd", "bf-no-such-tool"])]);
    expect(r.stdout.toString()).toBe("missing bf-no-such-tool\nchecked\n");
  });
  it("refuses anything but a program name", () => {
    for (const bad of ["a;b", "$(id)", "", "-x", "a b"])
      expect(() => toolsPresentCommand([bad])).toThrow(InvalidValueError);
  });
});

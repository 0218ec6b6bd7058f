// The direct data plane against the qemu lab: lab1 reaches lab2 over the private lab link (10.77.0.x), an
// address the server never uses. First the per-migration access: a key that runs nothing but the receive side,
// and nothing of ours left on either host once it is revoked.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Host, isTerminalJobState, type ProgressMessage, type StoredEvent } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostRow } from "../../apps/server/src/db/repositories/hosts.ts";
import { createTransferJournal } from "../../apps/server/src/db/repositories/transfer-journal.ts";
import { RemoteHosts } from "../../apps/server/src/hosts/index.ts";
import { openDataPath, SMALL_RUNS_REASON } from "../../apps/server/src/jobs/data-path.ts";
import {
  type AccessHost,
  grantMigrationAccess,
  type MigrationAccess,
  revokeMigrationAccess,
  sweepMigrationLeftovers,
} from "../../apps/server/src/transfer/direct/access.ts";
import { probeHashTool } from "../../apps/server/src/transfer/hash-tool.ts";
import { copyFull, type TransferResult, transferHostOf } from "../../apps/server/src/transfer/index.ts";
import { tempDb } from "../../apps/server/test/support/helpers.ts";
import { insertJob } from "../../apps/server/test/transfer/support/fixture.ts";
import {
  directReceiveCommand,
  type LvName,
  lvcreateLinearCommand,
  lvcreateThinCommand,
  lvcreateThinPoolCommand,
  lvDevicePath,
  lvremoveCommand,
  validateLvName,
  validateVgName,
} from "../../packages/lvm/src/index.ts";
import { type LabHost, labExec, labHost, setHostLink } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import { apiClient } from "./support/api.ts";
import { sh as labSh, leftovers as lvmLeftovers, sha256OnBoth } from "./support/lvm.ts";
import { copiedFraction, followProgress } from "./support/progress.ts";
import { freePort, killHard, type ServerProcess, spawnServer } from "./support/server-process.ts";
import { until } from "./support/wait.ts";

const [lab1, lab2] = (await Promise.all(labPair().hosts.map((h) => labHost(h.labDir, h.name)))) as [LabHost, LabHost];
const remote = new RemoteHosts();
const vg = validateVgName("vg0");
const suffix = Date.now().toString(36);
const targetLv = validateLvName(`direct-acc-${suffix}`);
const targetDevice = lvDevicePath(vg, targetLv);

/** Audit entries, as the product records them (here in memory: what matters is that each action is recorded). */
const audited: Array<{ action: string; subject: string }> = [];
const deps = {
  audit: { record: (_actor: unknown, action: string, subject: string) => audited.push({ action, subject }) },
};

const accessHost = (host: LabHost): AccessHost => ({
  name: host.name,
  exec: (command, options = {}) =>
    remote.exec(host.name, command, { stdin: options.stdin, timeoutMs: options.timeoutMs ?? 60_000 }),
});

/** What of ours a host holds: key lines (by marker) and migration directories. */
async function leftovers(host: LabHost): Promise<string> {
  const { stdout } = await labExec(
    host,
    "grep -c blockferry-migration /root/.ssh/authorized_keys || true; ls -d /run/blockferry-* 2>/dev/null || true",
  );
  return stdout.trim();
}
/** leftovers() of lab1 and lab2, read at once. */
const bothLeftovers = () => Promise.all([leftovers(lab1), leftovers(lab2)]);

beforeAll(async () => {
  for (const host of [lab1, lab2]) {
    remote.register(host.name, {
      host: host.address,
      port: host.port,
      username: host.user,
      privateKey: host.privateKey,
      hostKeyFingerprint: host.hostKeyFingerprintSha256,
    });
  }
  await remote.exec(lab2.name, lvcreateLinearCommand({ vg, name: targetLv, sizeBytes: 8 << 20, tags: [] }));
}, 120_000);

const db = tempDb();
const journal = createTransferJournal(db.db);
const MiB = 1 << 20;
const copyLvs = {
  source: validateLvName(`direct-src-${suffix}`),
  pool: validateLvName(`direct-pool-${suffix}`),
  thin: validateLvName(`direct-thin-${suffix}`),
};

afterAll(async () => {
  // Each host's LVs in turn (the thin LV before its pool), both hosts at once.
  const remove = async (host: LabHost, lvs: LvName[]) => {
    for (const lv of lvs) await remote.exec(host.name, lvremoveCommand({ vg, lv })).catch(() => undefined);
  };
  await Promise.all([remove(lab2, [targetLv, copyLvs.thin, copyLvs.pool]), remove(lab1, [copyLvs.source])]);
  await remote.close();
  db.cleanup();
});

describe("per-migration access, source lab1 to target lab2 on the private link", () => {
  const jobId = 4242;
  let access: MigrationAccess;

  it("the key reaches only the receive side of this migration's target device", async () => {
    access = await grantMigrationAccess(deps, {
      jobId,
      source: accessHost(lab1),
      target: accessHost(lab2),
      targetEndpoint: { host: lab2.privateAddress as string, port: 22, user: "root" },
      targetHostKey: lab2.hostPublicKey,
      sourceHost: lab1.privateAddress,
      receiveCommand: directReceiveCommand({ jobId, device: targetDevice, hash: "b2sum" }),
    });
    expect(audited).toContainEqual({ action: "migration.direct_access_grant", subject: `job:${jobId}` });
    expect(await labExec(lab1, `stat -c %a ${access.sourceDir} ${access.sourceDir}/id_ed25519`)).toMatchObject({
      stdout: "700\n600\n",
    });
    const viaKey = (args: string, input = "") =>
      labExec(lab1, `${access.sshCommand} ${args}`, { input, allowFailure: true, timeoutMs: 60_000 });

    // Local port forwarding to lab2's sshd: restrict refuses it, so nothing answers through the tunnel.
    const forwarding = () =>
      labExec(
        lab1,
        [
          `${access.sshCommand.replace("ClearAllForwardings=yes", "ClearAllForwardings=no")} -N -L 127.0.0.1:40022:127.0.0.1:22 & p=$!`,
          // wait for the tunnel's listener (ssh opens it before asking the target anything)
          "i=0; until netstat -ltn | grep -q ':40022 '; do i=$((i + 1)); [ $i -lt 300 ] || break; sleep 0.1; done",
          "ssh-keyscan -T 10 -p 40022 127.0.0.1 2>/dev/null; echo scanned; kill $p",
        ].join("; "),
        { allowFailure: true, timeoutMs: 90_000 },
      );
    // The four sessions at once (each pays its own handshake inside TCG); none depends on another's outcome, and
    // each receive side works in files named by its own pid.
    const [written, id, shell, forward] = await Promise.all([
      // A real records stream: the forced command writes it and proves it (one b2sum line).
      viaKey("", "d 0 512\n".concat("x".repeat(512), "e\n")),
      // `id` asked for: the forced command runs instead (no input: it fails before writing anything).
      viaKey("id"),
      // A "shell" typing a command: the forced command reads it as a record and refuses it.
      viaKey("", "id\nexit\n"),
      forwarding(),
    ]);
    expect(written.code).toBe(0);
    expect(written.stdout).toMatch(/^[0-9a-f]{128} {2}-\n$/);
    expect(id.stdout).not.toContain("uid=");
    expect(id.stderr).toContain("stream ended before its end record");
    expect(shell.stdout).not.toContain("uid=");
    expect(shell.stderr).toContain("bad record: id");
    expect(forward.stdout.trim()).toBe("scanned");
  });

  it("revoking leaves nothing of ours on either host; the server's own access stays", async () => {
    await revokeMigrationAccess(deps, { jobId, source: accessHost(lab1), target: accessHost(lab2) }, "test done");
    expect(await bothLeftovers()).toEqual(["0", "0"]);
    expect(audited).toContainEqual({ action: "migration.direct_access_revoke", subject: `job:${jobId}` });
    const after = await labExec(lab1, `${access.sshCommand} </dev/null`, { allowFailure: true });
    expect(after.code).not.toBe(0);
    expect((await labExec(lab2, "true")).code).toBe(0);
  });

  it("the sweep removes leftovers of jobs that are not running and keeps those that are", async () => {
    const grant = (id: number) =>
      grantMigrationAccess(deps, {
        jobId: id,
        source: accessHost(lab1),
        target: accessHost(lab2),
        targetEndpoint: { host: lab2.privateAddress as string, port: 22, user: "root" },
        targetHostKey: lab2.hostPublicKey,
        receiveCommand: directReceiveCommand({ jobId: id, device: targetDevice, hash: "b2sum" }),
      });
    await grant(901);
    await grant(902);
    // Each host is swept on its own (as crash recovery does): both at once.
    const sweep = (running: Set<number>) =>
      Promise.all([lab1, lab2].map((host) => sweepMigrationLeftovers(deps, accessHost(host), running)));
    expect(await sweep(new Set([902]))).toEqual([[901], [901]]);
    expect(await bothLeftovers()).toEqual(["0\n/run/blockferry-902", "1"]);
    expect(await sweep(new Set())).toEqual([[902], [902]]);
    expect(await bothLeftovers()).toEqual(["0", "0"]);
  });
});

describe("direct full copy, lab1 to lab2 over the private link", () => {
  const bytes = 8 * MiB;
  const sha = async (host: LabHost, lv: string, length = bytes) =>
    (await labExec(host, `head -c ${length} /dev/vg0/${lv} | sha256sum`)).stdout.split(" ")[0];

  beforeAll(async () => {
    // 4 MiB of data, then 4 MiB of zeroes (each copied direct costs seconds under TCG): the zero half must never be sent to (or allocated on) a thin target.
    // The source on lab1 and the thin target on lab2 at once.
    const source = async () => {
      await remote.exec(lab1.name, lvcreateLinearCommand({ vg, name: copyLvs.source, sizeBytes: bytes, tags: [] }));
      await labExec(
        lab1,
        `{ head -c ${bytes / 2} /dev/urandom; head -c ${bytes / 2} /dev/zero; } | dd of=/dev/vg0/${copyLvs.source} bs=1M iflag=fullblock oflag=direct status=none`,
      );
    };
    const target = async () => {
      for (const command of [
        lvcreateThinPoolCommand({ vg, name: copyLvs.pool, sizeBytes: 12 * MiB, tags: [] }),
        lvcreateThinCommand({ vg, pool: copyLvs.pool, name: copyLvs.thin, virtualSizeBytes: bytes, tags: [] }),
      ])
        await remote.exec(lab2.name, command, { timeoutMs: 60_000 });
    };
    await Promise.all([source(), target()]);
  }, 180_000);

  it("into a fresh thin LV: equal bytes, the zero half neither sent nor allocated, nothing of ours left", async () => {
    const source = { host: transferHostOf(remote.connection(lab1.name)), device: `/dev/vg0/${copyLvs.source}` };
    const target = { host: transferHostOf(remote.connection(lab2.name)), device: `/dev/vg0/${copyLvs.thin}` };
    const jobId = insertJob(db.db);
    const [sourceTool, targetTool] = await Promise.all([probeHashTool(source.host), probeHashTool(target.host)]);
    const hash = sourceTool === targetTool ? targetTool : "b2sum";
    const access = await grantMigrationAccess(deps, {
      jobId,
      source: accessHost(lab1),
      target: accessHost(lab2),
      targetEndpoint: { host: lab2.privateAddress as string, port: 22, user: "root" },
      targetHostKey: lab2.hostPublicKey,
      sourceHost: lab1.privateAddress,
      receiveCommand: directReceiveCommand({ jobId, device: target.device, hash }),
    });
    let result: TransferResult;
    try {
      const direct = { jobId, sshCommand: access.sshCommand, hash };
      result = await copyFull({ source, target, journal, jobId, pass: "full", bytes, targetReadsZero: true, direct });
    } finally {
      await revokeMigrationAccess(deps, { jobId, source: accessHost(lab1), target: accessHost(lab2) }, "copy done");
    }
    expect(await sha(lab2, copyLvs.thin)).toBe(await sha(lab1, copyLvs.source));
    expect(result).toMatchObject({ bytesRead: bytes, bytesSent: bytes / 2, bytesSkipped: bytes / 2, bytesZeroed: 0 });
    const used = Number((await labExec(lab2, `lvs --noheadings -o data_percent vg0/${copyLvs.thin}`)).stdout.trim());
    expect(used).toBeLessThanOrEqual(55);
    expect(await bothLeftovers()).toEqual(["0", "0"]);
  });
});

describe("auto, when the source cannot reach the target's migration address", () => {
  it("takes the relay within seconds and says why (a refused port, a silent address), leaving nothing behind", async () => {
    const row = (id: number, lab: LabHost, name: string, migrationAddress: string) =>
      ({
        id,
        name,
        address: lab.address,
        port: lab.port,
        username: "root",
        migrationAddress,
        pinnedFingerprint: lab.hostKeyFingerprintSha256,
      }) as HostRow;
    const open = async (targetAddress: string) => {
      const rows = new Map([
        [1, row(1, lab1, "lab1", lab1.privateAddress as string)],
        [2, row(2, lab2, "lab2-unreachable", targetAddress)],
      ]);
      const t0 = performance.now();
      const path = await openDataPath(
        {
          remote: { exec: (id, command, o) => remote.exec(id === 1 ? lab1.name : lab2.name, command, o) },
          hosts: { get: (id) => rows.get(id) },
          audit: deps.audit,
        },
        { jobId: 4343, dataPath: "auto", sourceHostId: 1, targetHostId: 2, targetDevice },
      );
      const seconds = (performance.now() - t0) / 1000;
      process.stderr.write(`auto fallback for ${targetAddress} decided in ${seconds.toFixed(1)} s\n`);
      return { path, seconds };
    };
    // Both at once (each timed on its own): the probe fails before any key is granted, so they share nothing.
    const [refused, silent] = await Promise.all([open(`${lab2.privateAddress}:2`), open("10.77.0.99")]);
    expect(refused.path).toMatchObject({
      ran: "relay",
      reason: `direct path not available: lab1 cannot reach lab2-unreachable at its migration address ${lab2.privateAddress}:2`,
    });
    expect(silent.path).toMatchObject({
      ran: "relay",
      reason: "direct path not available: lab1 cannot reach lab2-unreachable at its migration address 10.77.0.99:22",
    });
    // Bounded: keyscan waits 5 s, each precheck command at most 15 s (the rest is this lab's exec latency).
    expect(Math.max(refused.seconds, silent.seconds)).toBeLessThan(30);
    expect(await bothLeftovers()).toEqual(["0", "0"]);
  });
});

describe("migrations over the direct path (one server process; hosts reach each other on the private link)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "bf-direct-"));
  // Every server process this file started, killed (process group and all) however the tests end.
  const servers: ServerProcess[] = [];
  let server: ServerProcess;
  let api: ReturnType<typeof apiClient>;
  let src: Host;
  let dst: Host;
  const t0 = Date.now();
  const mark = (what: string) => process.stderr.write(`direct: ${what} at +${(Date.now() - t0) / 1000} s\n`);

  const startServer = async () => {
    server = await spawnServer(dataDir, await freePort());
    servers.push(server);
    api = apiClient(server.url, server.token);
  };
  /** Adds a host with its migration address and trusts the key it presents (checked against the lab's). */
  async function addHost(lab: LabHost, name: string, migrationAddress: string): Promise<Host> {
    const added = await api.call<{ host: Host; fingerprint: string }>("POST", "/api/hosts", {
      name,
      address: lab.address,
      port: lab.port,
      privateKey: lab.privateKey,
      migrationAddress,
    });
    expect(added.fingerprint).toBe(lab.hostKeyFingerprintSha256);
    return api.call<Host>("POST", `/api/hosts/${added.host.id}/trust`, { fingerprint: added.fingerprint });
  }
  const logLines = async (id: number) => {
    const { events } = await api.call<{ events: StoredEvent[] }>("GET", `/api/jobs/${id}/events?limit=1000`);
    return events.filter((e) => e.type === "job.log").map((e) => (e.data as { message: string }).message);
  };
  /** The job's full copy took the direct path, and the source's ssh of a direct batch runs (as long as its batch). */
  const directBatchRunning = async (jobId: number) => {
    let chosen: string | undefined;
    await until(
      `job ${jobId} to choose its data path`,
      async () => {
        chosen = (await logLines(jobId)).find((line) => /^full\S*: data path /.test(line));
        const m = await api.migration(jobId);
        if (isTerminalJobState(m.state)) throw new Error(`job ${jobId} ended ${m.state}: ${m.error?.message ?? ""}`);
        return chosen !== undefined;
      },
      240_000,
    );
    expect(chosen).toMatch(/: data path direct$/);
    await until(`a direct batch of job ${jobId}`, async () =>
      (await labSh(lab1, "ps -eo args"))
        .split("\n")
        // The source directory is named by the server's instance id and the job: /run/blockferry-<instance>-<job>.
        .some((l) => new RegExp(`/run/blockferry-[0-9a-f]{8}-${jobId}/id_ed25519`).test(l)),
    );
  };
  const slow = (jobId: number, bytesPerSecond: number | null) =>
    api.call("PUT", `/api/migrations/${jobId}/bandwidth`, { bytesPerSecond });
  /**
   * A classic LV of 4 MiB, random bytes: at the 256 KiB/s limit its copy runs 16 s, a window to act "mid copy";
   * small, since the copy after the kill or the cut starts over (one range) at the direct path's TCG pace.
   */
  const classicLv = (name: string) =>
    labSh(
      lab1,
      `lvcreate -q -y -L 4M -n ${name} vg0 && dd if=/dev/urandom of=/dev/vg0/${name} bs=1M count=4 oflag=direct status=none`,
    );
  const LIMIT = 256 << 10;
  const noLeftovers = async () => expect(await bothLeftovers()).toEqual(["0", "0"]);

  /**
   * A writer on each LV of a set at once, standing in for a VM with several disks (bf-workload drives one device):
   * 64 KiB of random bytes at a random one of the first `blocks` 64 KiB blocks of each LV in turn, about twice a
   * second, until `stop` (a command for the job's stopSource) tells it to; `stop` returns once its last write is
   * done and flushed.
   */
  const SET_WRITER = "/run/bf-set-writer";
  const setWriter = {
    start: (lvs: string[], blocks: number) => {
      const writes = lvs.map(
        (lv) =>
          `dd if=/dev/urandom of=/dev/vg0/${lv} bs=64K count=1 seek=$((RANDOM % ${blocks})) oflag=direct conv=notrunc status=none`,
      );
      const loop = `n=0; until [ -e ${SET_WRITER}/stop ]; do ${writes.join("; ")}; n=$((n + 1)); echo $n >${SET_WRITER}/count; sleep 0.5; done; touch ${SET_WRITER}/done`;
      return labSh(
        lab1,
        `rm -rf ${SET_WRITER} && mkdir ${SET_WRITER} && { setsid nice -n 19 bash -c '${loop}' </dev/null >/dev/null 2>&1 & }`,
      );
    },
    stop: `touch ${SET_WRITER}/stop && until [ -e ${SET_WRITER}/done ]; do sleep 0.1; done && sync`,
  };
  /** This job's direct access on a host, as `<job>` or `<job>-dN`: key lines by marker, and key directories. */
  const accessOfJob = async (host: LabHost, jobId: number) =>
    (
      await labSh(
        host,
        `grep -o ' blockferry-migration-[0-9a-f]*-${jobId}\\(-d[0-9]*\\)\\{0,1\\}$' /root/.ssh/authorized_keys; ` +
          `ls -d /run/blockferry-*-${jobId} /run/blockferry-*-${jobId}-d* 2>/dev/null; true`,
      )
    )
      .split("\n")
      .filter(Boolean)
      .map((line) => line.trim().replace(/^(blockferry-migration|\/run\/blockferry)-[0-9a-f]{8}-/, "$1 "))
      .sort();

  beforeAll(async () => {
    await startServer();
    src = await addHost(lab1, "lab1", lab1.privateAddress as string);
    dst = await addHost(lab2, "lab2", lab2.privateAddress as string);
    expect(dst.migrationAddress).toBe(lab2.privateAddress);
  }, 120_000);
  afterAll(async () => {
    await setHostLink(lab1, true, "private").catch(() => undefined);
    await labSh(lab1, "bf-workload stop >/dev/null 2>&1 || true");
    await labSh(lab1, `[ ! -d ${SET_WRITER} ] || { ${setWriter.stop}; }`);
    for (const s of servers) await killHard(s);
    // One command per host (the thin LV before its pool), both hosts at once.
    await Promise.all(
      [lab1, lab2].map((host) =>
        labSh(
          host,
          "for lv in dvm dset0 dset1 dcut dthin dpool; do lvremove -q -y vg0/$lv >/dev/null 2>&1; done; true",
        ),
      ),
    );
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("a classic LV written to during the copy, the server killed -9 mid direct copy: resumes direct, sha256-equal, nothing of ours left", async () => {
    await classicLv("dvm");
    await labSh(lab1, "bf-workload start /dev/vg0/dvm 128");
    // No dataPath: auto, the default, takes the direct path when its prechecks pass.
    const job = await api.createMigration({
      source: { hostId: src.id, vg: "vg0", lv: "dvm" },
      target: { hostId: dst.id, vg: "vg0" },
      vm: { controller: "commands", stopSource: "bf-workload stop", startTarget: "true" },
      cutover: "auto",
      options: { bandwidthLimitBytesPerSecond: LIMIT },
    });
    await directBatchRunning(job.id);
    mark("kill -9 mid direct copy");
    await killHard(server);
    await startServer();
    mark("restarted");
    await slow(job.id, null);
    await api.waitFor(job.id, (m) => m.state === "succeeded", 300_000);
    mark("crash case succeeded");
    const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/dvm");
    expect(target).toBe(source);
    const lines = await logLines(job.id);
    // Once before the kill, again (at least) after the restart: the resumed copy went direct too.
    expect(lines.filter((line) => /^full\S*: data path direct$/.test(line)).length).toBeGreaterThanOrEqual(2);
    // The writer's catch-up and final deltas are small scattered runs: auto sends those through the relay's SFTP
    // without setting the direct path up (the outage waits for the final one); never a fallback.
    const relayed = lines.filter((line) => /data path relay/.test(line));
    expect(relayed.filter((line) => !line.endsWith(`: data path relay (${SMALL_RUNS_REASON})`))).toEqual([]);
    await noLeftovers();
    expect(await lvmLeftovers(lab1, "vg0")).toEqual({ lvs: [], processes: [] });
  }, 400_000);

  it("a set of two classic LVs, both written to, the server killed -9 while both copy direct: both resume direct, sha256-equal, no key of the job or its disks left", async () => {
    const lvs = ["dset0", "dset1"];
    await labSh(
      lab1,
      lvs
        .map(
          (lv) =>
            `lvcreate -q -y -L 8M -n ${lv} vg0 && dd if=/dev/urandom of=/dev/vg0/${lv} bs=1M count=8 oflag=direct status=none`,
        )
        .join(" && "),
    );
    await setWriter.start(lvs, (8 * MiB) / (64 << 10));
    await until(
      "the set writer's first writes",
      async () => Number(await labSh(lab1, `cat ${SET_WRITER}/count 2>/dev/null || echo 0`)) > 0,
    );
    // A disk set without a VM (as the wizard's "Logical volumes" or `blockferry migrate --disk A --disk B`): auto
    // data path; both disks' full copies at once, each with the limit to itself: 32 s at 256 KiB/s. 8 MiB, as the
    // direct path's progress moves in 4 MiB steps under a limit: half-way is a state that lasts about 16 s.
    const job = await api.createMigration({
      sourceHostId: src.id,
      targetHostId: dst.id,
      disks: lvs.map((lv) => ({ source: { vg: "vg0", lv }, target: { vg: "vg0" } })),
      vm: { controller: "commands", stopSource: setWriter.stop, startTarget: "true" },
      cutover: "auto",
      options: { bandwidthLimitBytesPerSecond: LIMIT },
    });
    const fullCopyLine = (disk: number) => new RegExp(`^disk ${disk} \\(vg0/${lvs[disk]}\\): full\\S*: data path `);
    const progress = followProgress(server, job.id);
    try {
      await until(
        "both disks mid full copy",
        async () => {
          const m = await api.migration(job.id);
          if (isTerminalJobState(m.state)) throw new Error(`job ${job.id} ended ${m.state}: ${m.error?.message ?? ""}`);
          return lvs.every((_, disk) => {
            const p = progress.latest.get(disk);
            return (
              p?.phase === "full_copy" && p.pass?.startsWith("full") && copiedFraction(p) > 0 && copiedFraction(p) < 1
            );
          });
        },
        240_000,
      );
    } finally {
      progress.close();
    }
    mark(
      `kill -9 with both disks mid copy (${lvs.map((_, d) => copiedFraction(progress.latest.get(d) as ProgressMessage).toFixed(2)).join(", ")})`,
    );
    await killHard(server);
    // What the dead server left: each disk's own access (the -d1 suffix): the source's key directories, the
    // target's key lines and its receive sides' directories. The restarted server's sweep and the resumed copies
    // must leave none of it.
    const dirs = [`/run/blockferry ${job.id}`, `/run/blockferry ${job.id}-d1`];
    const keyLines = [`blockferry-migration ${job.id}`, `blockferry-migration ${job.id}-d1`];
    expect(await Promise.all([accessOfJob(lab1, job.id), accessOfJob(lab2, job.id)])).toEqual([
      dirs,
      [...dirs, ...keyLines],
    ]);
    await startServer();
    mark("restarted");
    await slow(job.id, null);
    await api.waitFor(job.id, (m) => m.state === "succeeded", 300_000);
    mark("set crash case succeeded");
    // Each LV's target and source read at once, both LVs at once.
    const sums = await Promise.all(lvs.map((lv) => sha256OnBoth(lab2, lab1, `/dev/vg0/${lv}`)));
    for (const [disk, [target, source]] of sums.entries()) expect(target, `disk ${disk}`).toBe(source);
    const { events } = await api.call<{ events: StoredEvent[] }>("GET", `/api/jobs/${job.id}/events?limit=1000`);
    // Written to during the copy: each disk's final delta (the writer stopped with the source) had bytes to send.
    const finals = events
      .filter((e) => e.type === "job.copied")
      .map((e) => e.data as { pass: string; disk: number; bytesSent: number })
      .filter((copied) => copied.pass === "final");
    expect(finals.map((copied) => copied.disk)).toEqual([0, 1]);
    for (const copied of finals) expect(copied.bytesSent, `disk ${copied.disk}`).toBeGreaterThan(0);
    const lines = events.filter((e) => e.type === "job.log").map((e) => (e.data as { message: string }).message);
    for (const disk of [0, 1]) {
      const chosen = lines.filter((line) => fullCopyLine(disk).test(line));
      // Once before the kill, again (at least) after the restart: each disk's resumed copy went direct too.
      expect(chosen.length, `disk ${disk}`).toBeGreaterThanOrEqual(2);
      expect(
        chosen.filter((line) => !line.endsWith(": data path direct")),
        `disk ${disk}`,
      ).toEqual([]);
    }
    // The final deltas are small scattered runs: auto sends them through the relay's SFTP; never a fallback.
    const relayed = lines.filter((line) => /data path relay/.test(line));
    expect(relayed.filter((line) => !line.endsWith(`: data path relay (${SMALL_RUNS_REASON})`))).toEqual([]);
    // Nothing of ours on either host (no key line, no /run/blockferry-* directory of any job or disk), and no
    // snapshot or copy process on the source: read at once.
    const [ours, lvm] = await Promise.all([bothLeftovers(), lvmLeftovers(lab1, "vg0")]);
    expect(ours).toEqual(["0", "0"]);
    expect(lvm).toEqual({ lvs: [], processes: [] });
  }, 400_000);

  it("a thin LV written to during the copy, into a thin pool: full copy direct, sha256-equal, nothing of ours left", async () => {
    // 8 MiB virtual, 4 MiB written: the unwritten half reads as zeroes and is never sent to the fresh thin target.
    await Promise.all([
      labSh(
        lab1,
        "lvcreate -q -y --type thin-pool -L 48M -n dpool vg0 && lvcreate -q -y -V 8M -T vg0/dpool -n dthin && dd if=/dev/urandom of=/dev/vg0/dthin bs=1M count=4 oflag=direct status=none",
      ),
      labSh(lab2, "lvcreate -q -y --type thin-pool -L 48M -n dpool vg0"),
    ]);
    await labSh(lab1, "bf-workload start /dev/vg0/dthin 256");
    // The writer is writing before the copy starts and until the source stops (stopSource): during every pass.
    await until("the writer's first write", async () => /writes=[1-9]/.test(await labSh(lab1, "bf-workload status")));
    const job = await api.createMigration({
      source: { hostId: src.id, vg: "vg0", lv: "dthin" },
      target: { hostId: dst.id, vg: "vg0", thinPool: "dpool" },
      vm: { controller: "commands", stopSource: "bf-workload stop", startTarget: "true" },
      cutover: "auto",
      options: { catchUpPasses: 1 },
    });
    await api.waitFor(job.id, (m) => m.state === "succeeded", 300_000);
    mark("thin case succeeded");
    const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/dthin");
    expect(target).toBe(source);
    expect(await labSh(lab2, "lvs --noheadings -o segtype vg0/dthin")).toContain("thin");
    const lines = await logLines(job.id);
    expect(lines.filter((line) => /^full\S*: data path direct$/.test(line))).toHaveLength(1);
    const relayed = lines.filter((line) => /data path relay/.test(line));
    expect(relayed.filter((line) => !line.endsWith(`: data path relay (${SMALL_RUNS_REASON})`))).toEqual([]);
    await noLeftovers();
    expect(await lvmLeftovers(lab1, "vg0")).toEqual({ lvs: [], processes: [] });
    // The source pool's metadata snapshot (thin_delta) was released.
    expect(await labSh(lab1, "dmsetup status vg0-dpool-tpool")).toMatch(/ - (rw|ro)/);
  }, 400_000);

  it("the source-to-target link cut mid direct copy and restored: retried direct, sha256-equal, never a false success", async () => {
    await classicLv("dcut");
    const job = await api.createMigration({
      source: { hostId: src.id, vg: "vg0", lv: "dcut" },
      target: { hostId: dst.id, vg: "vg0" },
      vm: { controller: "commands", stopSource: "true", startTarget: "true" },
      cutover: "auto",
      options: { dataPath: "direct", bandwidthLimitBytesPerSecond: LIMIT },
    });
    await directBatchRunning(job.id);
    // The target's receive side of this job (its shell carries the job's tag; see trackedReceiveCommand).
    const receiving = async () =>
      (await labSh(lab2, "ps -eo args"))
        .split("\n")
        .some((l) => new RegExp(`: blockferry-receive-[0-9a-f]{8}-${job.id};`).test(l));
    await until("the target's receive side", receiving);
    mark("private link cut");
    const cutAt = Date.now();
    await setHostLink(lab1, false, "private");
    try {
      await until("the job to notice the lost link", async () =>
        (await logLines(job.id)).some((line) => /direct link lab1 to lab2 at 10\.77\.0\.2:22 lost/.test(line)),
      );
      mark("link loss noticed");
      expect((await api.migration(job.id)).state).not.toBe("succeeded");
      // Revoking the lost grant ends the old receive side at once: it does not wait for lab2's sshd to give up
      // on the dead session (~45 s after the cut), and no re-open can start a new one while the link is down.
      const noticedAt = Date.now();
      await until("the old receive side to end", async () => !(await receiving()), 20_000);
      mark(
        `old receive side gone ${(Date.now() - noticedAt) / 1000} s after the loss was noticed, ${(Date.now() - cutAt) / 1000} s after the cut`,
      );
    } finally {
      await setHostLink(lab1, true, "private");
    }
    mark("private link restored");
    await slow(job.id, null);
    await api.waitFor(job.id, (m) => m.state === "succeeded", 300_000);
    mark("cut case succeeded");
    const [target, source] = await sha256OnBoth(lab2, lab1, "/dev/vg0/dcut");
    expect(target).toBe(source);
    expect(
      (await logLines(job.id)).some((line) => /data path direct \(re-opened after the link was lost/.test(line)),
    ).toBe(true);
    await noLeftovers();
  }, 400_000);
});

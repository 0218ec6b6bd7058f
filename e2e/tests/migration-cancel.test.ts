// Issue 7, "cancel in any phase": a migration is cancelled in each phase in turn, on real LVM hypervisors. Each
// phase is held the way the world holds it, never by hooks in the product: another LVM user holding the VG's lock
// (our lvs/lvcreate wait on it), a VM whose shutdown hangs, a slow link (bandwidth limit), a slow target disk
// (dm-delay), a VM start that waits for its operator. Afterwards the job is cancelled (from start_vm on: the cancel
// is refused with a 409 that says why), no snapshot and no process of ours is left on either host, the source VM
// runs again if we had stopped it (and only then), and the source LV is intact.
//
// One source LV serves every case: a cancel must leave it as it was, so the next case starts from it again.
import type { Migration } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import type { apiClient } from "./support/api.ts";
import { currentLabHosts, sh } from "./support/lvm.ts";
import { startServerWithLabHosts, type startTestServer } from "./support/server.ts";

const { hosts } = labPair();
// Re-read: an earlier lab test may have rotated a host key.
const [lab1, lab2] = (await currentLabHosts(hosts)) as [LabHost, LabHost];

const VG = "vg0";
const LV = "cnsrc";
const DEVICE = `/dev/${VG}/${LV}`;
/** Small: every case but the first three copies it in full (TCG), and each check hashes it. */
const LV_BYTES = 4 << 20;
/** The stop_vm case's stop command hangs in this after stopping the VM: a shutdown that never returns. */
const HANGING = "sleep 297";
/** Our processes: the transfer's (as `leftovers` in support/lvm.ts), LVM and device-mapper tools, hung VM commands. */
const OURS = new RegExp(
  `^(dd|split|b2sum|sha256sum|cmp|lvcreate|lvremove|lvextend|lvchange|lvs|vgs|dmsetup|thin_delta|blockdev) |^${HANGING}$`,
);
const SNAPSHOT = /^bf-\d+-s\d+$/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything a check needs from one host, in one round trip (TCG makes each one cost). */
async function look(host: LabHost, o: { hash?: boolean } = {}) {
  const out = await sh(
    host,
    [
      `lvs --noheadings --units b --nosuffix -o lv_name,lv_size,lv_attr,lv_tags ${VG} 2>/dev/null`,
      "echo @@; ps -eo args; echo @@; bf-workload status 2>/dev/null; echo @@",
      o.hash ? `dd if=${DEVICE} bs=4M iflag=direct status=none | sha256sum` : "true",
    ].join("; "),
  );
  const [lvs = "", ps = "", workload = "", hash = ""] = out.split("@@\n");
  const lvRows = lvs
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((r) => r[0])
    .map(([name = "", size = "", attr = "", tags = ""]) => ({ name, size: Number(size), attr, tags }));
  return {
    lvs: lvRows,
    snapshots: lvRows.filter((r) => SNAPSHOT.test(r.name) && r.tags.includes("blockferry")).map((r) => r.name),
    processes: ps.split("\n").filter((l) => OURS.test(l)),
    workload: workload.trim(),
    sha256: hash.split(" ")[0] ?? "",
  };
}

/** Waits until `probe` holds (a phase's inside can only be seen from the host). */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
/** Whether a process runs on the host (ps only: `look` runs lvs, which waits while a test holds the VG lock). */
const seen = (host: LabHost, pattern: RegExp) => async () =>
  (await sh(host, "ps -eo args")).split("\n").some((l) => pattern.test(l));

/**
 * Another LVM user holding the VG's lock the way `lvm` takes it: flock on /run/lock/lvm/V_<vg>. Shared: LVM reads
 * go on, changes (lvcreate, lvremove) wait. Exclusive: every LVM command on the VG waits.
 */
async function holdVgLock(host: LabHost, mode: "shared" | "exclusive"): Promise<() => Promise<void>> {
  const file = `/run/lock/lvm/V_${VG}`;
  const flag = mode === "shared" ? "-s" : "-x";
  // Returns once held: an exclusive try then fails.
  const pid = (
    await sh(
      host,
      `(exec 9>>${file}; flock ${flag} 9; exec sleep 600) </dev/null >/dev/null 2>&1 & sleep 0.2; ` +
        `until ! flock -n -x ${file} true; do sleep 0.1; done; echo $!`,
    )
  ).trim();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    await sh(host, `kill ${pid} 2>/dev/null || true`);
  };
}

describe("cancel in every phase", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  let srcId: number;
  let dstId: number;
  let sourceSha = "";
  const releases: Array<() => Promise<void>> = [];
  const targets: string[] = [];
  const timings: string[] = [];

  beforeAll(async () => {
    const started = await startServerWithLabHosts(lab1, lab2);
    ({ server, api } = started);
    srcId = started.src.id;
    dstId = started.dst.id;
    await sh(
      lab1,
      `lvcreate -q -y -L ${LV_BYTES}b -n ${LV} ${VG} && dd if=/dev/urandom of=${DEVICE} bs=1M count=${LV_BYTES >> 20} oflag=direct status=none`,
    );
    sourceSha = (await look(lab1, { hash: true })).sha256;
  });
  afterAll(async () => {
    for (const release of releases) await release().catch(() => undefined);
    await server?.close();
    await Promise.all([
      sh(lab1, `bf-workload stop >/dev/null 2>&1; lvremove -q -y ${VG}/${LV} >/dev/null 2>&1; true`),
      sh(lab2, `for lv in ${targets.join(" ")}; do lvremove -q -y ${VG}/$lv >/dev/null 2>&1; done; true`),
    ]);
    process.stderr.write(`cancel, request to cancelled: ${timings.join(", ")}\n`);
  });

  const lock = async (host: LabHost, mode: "shared" | "exclusive") => {
    const release = await holdVgLock(host, mode);
    releases.push(release);
    return release;
  };

  /** The job's log lines, as stored. */
  const logMessages = async (id: number) => {
    const { events } = await api.call<{ events: Array<{ type: string; data: { message?: string } }> }>(
      "GET",
      `/api/jobs/${id}/events?limit=1000`,
    );
    return events.filter((e) => e.type === "job.log").map((e) => e.data.message ?? "");
  };

  /** Migrates the source LV to lab2 as `target`; the VM is the lab's workload, driven by its commands. */
  function migrate(
    target: string,
    o: { cutover?: "manual" | "auto"; stopSource?: string; startTarget?: string; options?: object } = {},
  ): Promise<Migration> {
    targets.push(target);
    return api.createMigration({
      source: { hostId: srcId, vg: VG, lv: LV },
      target: { hostId: dstId, vg: VG, lv: target },
      vm: {
        controller: "commands",
        stopSource: o.stopSource ?? "bf-workload stop",
        startSource: `bf-workload start ${DEVICE} 64`,
        startTarget: o.startTarget ?? `echo {device} > /run/started-${target}`,
      },
      cutover: o.cutover ?? "manual",
      // Twice the origin (the 8 MiB it always had): every chunk and its exception records fit, so it cannot
      // overflow whatever the workload writes.
      options: { snapshotSizeBytes: 2 * LV_BYTES, ...o.options },
    });
  }

  const inPhase = (phase: string) => (m: Migration) => m.phase === phase && m.state !== "queued";

  /** Cancels; `meanwhile` runs before waiting for `cancelled`. Returns the time from request to cancelled. */
  async function cancel(job: Migration, meanwhile?: () => Promise<void>): Promise<number> {
    const t0 = Date.now();
    const { phase } = await api.cancel(job.id);
    await meanwhile?.();
    await api.waitFor(job.id, (m) => m.state === "cancelled", 60_000);
    const ms = Date.now() - t0;
    timings.push(`${phase} ${ms} ms`);
    return ms;
  }

  /**
   * What every cancel must leave: no snapshot and no process of ours on either host, the source LV as it was
   * (its bytes too, unless the VM runs), the VM running again exactly when we had stopped it, the target LV gone
   * (or kept, when asked), and no VM started on the target.
   */
  async function expectRolledBack(target: string, o: { vmStoppedByUs: boolean; kept?: boolean }) {
    const [src, dst, started] = await Promise.all([
      look(lab1, { hash: !o.vmStoppedByUs }),
      look(lab2),
      sh(lab2, `cat /run/started-${target} 2>/dev/null || echo none`),
    ]);
    if (o.vmStoppedByUs) expect(src.workload).toMatch(new RegExp(`^running ${DEVICE} 64KiB/s`));
    else expect(src.workload).toBe("stopped");
    expect(src.snapshots, "snapshots on lab1").toEqual([]);
    expect(dst.snapshots, "snapshots on lab2").toEqual([]);
    expect(
      src.processes.filter((p) => !(o.vmStoppedByUs && p.startsWith("dd if=/dev/urandom"))),
      "on lab1",
    ).toEqual([]);
    expect(dst.processes, "processes on lab2").toEqual([]);
    const source = src.lvs.find((l) => l.name === LV);
    // Not an origin any more ("o"), active, its size; open only while the restarted VM writes to it.
    const attr = o.vmStoppedByUs ? /^-wi-a[-o]/ : /^-wi-a-/;
    expect(source).toMatchObject({ size: LV_BYTES, attr: expect.stringMatching(attr) });
    // Only while the VM stayed stopped: once restarted, it writes.
    if (!o.vmStoppedByUs) expect(src.sha256).toBe(sourceSha);
    const kept = dst.lvs.find((l) => l.name === target);
    if (o.kept) expect(kept?.tags).toContain("blockferry");
    else expect(kept).toBeUndefined();
    expect(started.trim()).toBe("none");
    if (o.vmStoppedByUs) await sh(lab1, "bf-workload stop >/dev/null");
  }

  it("prechecks: stops an lvs blocked on the source VG's lock", async () => {
    const release = await lock(lab1, "exclusive");
    const job = await migrate("tprechecks");
    await api.waitFor(job.id, inPhase("prechecks"));
    await until("lvs to wait for the lock", seen(lab1, /^lvs /));
    // Cancelled while the other LVM user still holds the lock: the lvs was stopped, not waited for.
    expect(await cancel(job)).toBeLessThan(15_000);
    await release();
    await expectRolledBack("tprechecks", { vmStoppedByUs: false });
  });

  it("snapshot: stops an lvcreate waiting for the source VG's lock", async () => {
    const release = await lock(lab1, "shared");
    const job = await migrate("tsnapshot");
    await api.waitFor(job.id, inPhase("snapshot"));
    await until("lvcreate to wait for the lock", seen(lab1, /^lvcreate /));
    expect(await cancel(job)).toBeLessThan(15_000);
    await release();
    await expectRolledBack("tsnapshot", { vmStoppedByUs: false });
  });

  it("prepare_target: stops the target's lvcreate and drops the snapshot", async () => {
    const release = await lock(lab2, "shared");
    const job = await migrate("tpreparetarget");
    await api.waitFor(job.id, inPhase("prepare_target"));
    await until("lvcreate to wait for the lock", seen(lab2, /^lvcreate /));
    expect(await cancel(job)).toBeLessThan(15_000);
    await release();
    await expectRolledBack("tpreparetarget", { vmStoppedByUs: false });
  });

  it("full_copy: stops the copy on a slow link", async () => {
    const job = await migrate("tfullcopy", { options: { bandwidthLimitBytesPerSecond: 128 * 1024 } });
    await api.waitFor(job.id, inPhase("full_copy"));
    // Into the copy (4 MiB at 128 KiB/s take half a minute): the target writes what the source streams.
    await until("the target to receive the copy", seen(lab2, /^dd of=\/dev\/vg0\/tfullcopy /));
    expect(await cancel(job)).toBeLessThan(15_000);
    await expectRolledBack("tfullcopy", { vmStoppedByUs: false });
  });

  it("catch_up: stops the rotation's lvcreate, and drops every snapshot once the VG is free", async () => {
    // The target's lock holds the job in prepare_target, past the snapshot, while the source's lock is taken.
    const releaseTarget = await lock(lab2, "shared");
    const job = await migrate("tcatchup", { options: { catchUpPasses: 1 } });
    await api.waitFor(job.id, inPhase("prepare_target"));
    const releaseSource = await lock(lab1, "shared");
    await releaseTarget();
    await api.waitFor(job.id, inPhase("catch_up"));
    await until("the rotation's lvcreate to wait for the lock", seen(lab1, /^lvcreate /));
    await cancel(job, async () => {
      // The rotation's lvcreate gives up at once; dropping the first snapshot then waits for the VG, as it must.
      await api.waitFor(job.id, (m) => m.state === "cancelling");
      await until("the lvcreate to give up", async () => !(await seen(lab1, /^lvcreate /)()), 15_000);
      await releaseSource();
    });
    await expectRolledBack("tcatchup", { vmStoppedByUs: false });
  });

  it("wait_cutover: keeps the target LV when the operator asked to", async () => {
    const job = await migrate("twaitcutover", { options: { removeTargetOnCancel: false } });
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover");
    await cancel(job);
    await expectRolledBack("twaitcutover", { vmStoppedByUs: false, kept: true });
  });

  it("stop_vm: stops a shutdown that hangs, and restarts the VM", async () => {
    await sh(lab1, `bf-workload start ${DEVICE} 128`);
    const job = await migrate("tstopvm", { cutover: "auto", stopSource: `bf-workload stop && ${HANGING}` });
    await api.waitFor(job.id, inPhase("stop_vm"));
    await until("the hanging stop command", seen(lab1, new RegExp(`^${HANGING}$`)));
    expect(await cancel(job)).toBeLessThan(15_000);
    await expectRolledBack("tstopvm", { vmStoppedByUs: true });
  });

  it("final_delta: stops the delta copy during the outage, and restarts the VM", async () => {
    await sh(lab1, `bf-workload start ${DEVICE} 128`);
    const job = await migrate("tfinaldelta");
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover");
    // The VM writes: the snapshot records a delta.
    const writes = async () => Number(/writes=(\d+)/.exec(await sh(lab1, "bf-workload status"))?.[1]);
    const before = await writes();
    await until("the VM to write", async () => (await writes()) >= before + 3);
    // The link slows down before the cutover: the final delta would take minutes.
    await api.call("PUT", `/api/migrations/${job.id}/bandwidth`, { bytesPerSecond: 32 * 1024 });
    await api.cutover(job.id);
    await api.waitFor(job.id, inPhase("final_delta"));
    expect(await cancel(job)).toBeLessThan(15_000);
    await expectRolledBack("tfinaldelta", { vmStoppedByUs: true });
  });

  it("verify: stops hashing a slow target disk, and restarts the VM", async () => {
    const target = "tverify";
    const job = await migrate(target, { options: { verifyFull: true } });
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover");
    // The target disk turns slow: every read takes a second (dm-delay under the LV; writes are not delayed).
    await sh(
      lab2,
      `set -- $(dmsetup table ${VG}-${target}) && dmsetup suspend ${VG}-${target} && ` +
        `dmsetup reload ${VG}-${target} --table "0 $2 delay $4 $5 1000 $4 $5 0" && dmsetup resume ${VG}-${target}`,
    );
    await api.cutover(job.id);
    await api.waitFor(job.id, inPhase("verify"));
    expect(await cancel(job)).toBeLessThan(15_000);
    // Our stop command ran (on an idle VM): the VM is started again.
    await expectRolledBack(target, { vmStoppedByUs: true });
  });

  it("verify: waits for our hash process stuck on a suspended target disk, then removes the target", async () => {
    // Issue 18: a cancelled dd in uninterruptible I/O still held the target LV, lvremove refused it ("in use") and
    // the job ended failed with the LV left. Here the target disk is suspended under the hash: the dd cannot die
    // until the test resumes the disk, which it does only once the clean-up says it is waiting for it.
    const target = "tverifyheld";
    const dm = `${VG}-${target}`;
    const job = await migrate(target, { options: { verifyFull: true } });
    await api.waitFor(job.id, (m) => m.state === "waiting_cutover");
    // Slow reads (5 s each) hold the hash's first read while the test suspends the disk: the suspend lets that read
    // through (dm-delay flushes on suspend) and the dd's next read then waits for the resume.
    await sh(
      lab2,
      `set -- $(dmsetup table ${dm}) && dmsetup suspend ${dm} && ` +
        `dmsetup reload ${dm} --table "0 $2 delay $4 $5 5000 $4 $5 0" && dmsetup resume ${dm}`,
    );
    await api.cutover(job.id);
    await api.waitFor(job.id, inPhase("verify"));
    await until("the target's hash", seen(lab2, new RegExp(`^dd if=/dev/${VG}/${target} `)));
    await sh(lab2, `dmsetup suspend ${dm}`);
    const resumed = (async () => {
      await until(
        "the clean-up to wait for the dd",
        async () => {
          const m = await api.migration(job.id);
          if (m.state === "failed") throw new Error(`migration ended failed: ${m.error?.message}`);
          return (await logMessages(job.id)).some((l) => /waiting for .*dd .* to let go of/.test(l));
        },
        30_000,
      );
      expect((await look(lab2)).lvs.map((l) => l.name)).toContain(target);
      await sh(lab2, `dmsetup resume ${dm}`);
    })();
    releases.push(() => sh(lab2, `dmsetup resume ${dm} 2>/dev/null; true`).then(() => undefined));
    expect(await cancel(job, () => resumed)).toBeLessThan(60_000);
    await expectRolledBack(target, { vmStoppedByUs: true });
  });

  it("start_vm and cleanup: refuses to cancel with a 409 that says why, and finishes the migration", async () => {
    const target = "tstartvm";
    const job = await migrate(target, {
      cutover: "auto",
      // The VM starts on the target when its operator says so.
      startTarget: `until [ -e /run/go-${target} ]; do sleep 0.2; done; echo {device} > /run/started-${target}`,
    });
    const refusal = async () => {
      const res = await api.send("POST", `/api/migrations/${job.id}/cancel`);
      expect(res.status).toBe(409);
      const { error } = (await res.json()) as { error: { message: string; details: { reason: string } } };
      expect(error.details.reason).toBe("past_point_of_no_return");
      return error.message;
    };
    await api.waitFor(job.id, inPhase("start_vm"));
    expect(await refusal()).toMatch(/being started .* lose everything it wrote on the target/);
    // The source VG is busy when the clean-up drops the snapshot: the job waits in cleanup.
    const release = await lock(lab1, "shared");
    await sh(lab2, `touch /run/go-${target}`);
    await api.waitFor(job.id, inPhase("cleanup"));
    expect(await refusal()).toMatch(/past the point of no return/);
    await release();
    await api.waitFor(job.id, (m) => m.state === "succeeded");
    const [src, dst] = await Promise.all([look(lab1), look(lab2)]);
    expect((await sh(lab2, `cat /run/started-${target}`)).trim()).toBe(`/dev/${VG}/${target}`);
    expect(dst.lvs.find((l) => l.name === target)?.size).toBe(LV_BYTES);
    expect([...src.snapshots, ...dst.snapshots, ...src.processes, ...dst.processes]).toEqual([]);
    expect(src.workload).toBe("stopped");
  });
});

import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { createEventsRepo } from "../../src/db/repositories/events.ts";
import { createJobsRepo, type JobRow } from "../../src/db/repositories/jobs.ts";
import { hosts } from "../../src/db/schema.ts";
import { EventHub } from "../../src/events/hub.ts";
import { JobInterrupted, JobRunner, type Lease } from "../../src/jobs/runner.ts";
import { tempDb } from "../support/helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds (polling), failing after `ms`. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(5);
  }
}

function seed(t: ReturnType<typeof tempDb>, n: number, hostIds?: [number, number]) {
  const a = t.db
    .insert(hosts)
    .values({ name: `a${Math.random()}`, address: "127.0.0.1" })
    .returning()
    .get().id;
  const b = t.db
    .insert(hosts)
    .values({ name: `b${Math.random()}`, address: "127.0.0.1" })
    .returning()
    .get().id;
  const [src, dst] = hostIds ?? [a, b];
  const repo = createJobsRepo(t.db);
  // One LV per job: the database refuses two unfinished jobs on one LV.
  return Array.from({ length: n }, (_, i) =>
    repo.insert({
      sourceHostId: src,
      sourceVg: "vg",
      sourceLv: `lv${i}`,
      targetHostId: dst,
      targetVg: "vg",
      targetLv: `lv${i}`,
      vm: { controller: "none" },
      options: {},
    }),
  );
}

describe("JobRunner with leases in a real SQLite database", () => {
  let t: ReturnType<typeof tempDb>;
  const runners: JobRunner[] = [];
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    t.cleanup();
  });

  it("a stale runner cannot write after another took over its expired lease", async () => {
    t = tempDb();
    const [job] = seed(t, 1);
    const repo = createJobsRepo(t.db);
    let clock = 1_000_000;
    const timed = createJobsRepo(t.db, () => clock);
    const a = timed.claim(job?.id ?? 0, "runner-a", 10_000);
    expect(a?.leaseOwner).toBe("runner-a");
    expect(timed.claim(job?.id ?? 0, "runner-b", 10_000)).toBeUndefined();
    clock += 10_001; // runner A stalled past its lease
    expect(timed.claim(job?.id ?? 0, "runner-b", 10_000)?.leaseOwner).toBe("runner-b");
    expect(timed.updateOwned(job?.id ?? 0, "runner-a", { phase: "full_copy" })).toBe(false);
    expect(timed.updateOwned(job?.id ?? 0, "runner-b", { phase: "snapshot" })).toBe(true);
    expect(repo.get(job?.id ?? 0)?.phase).toBe("snapshot");
  });

  it("resumes a job after its runner died without releasing it", async () => {
    t = tempDb();
    const [job] = seed(t, 1);
    const repo = createJobsRepo(t.db);
    const seen: Array<{ owner: string; job: number }> = [];
    // Runner A "crashes": it claims the job and never finishes or releases it.
    const crashed = new JobRunner(
      repo,
      async (j, lease) => {
        seen.push({ owner: lease.owner, job: j.id });
        await new Promise(() => undefined);
      },
      () => undefined,
      { leaseMs: 300, pollMs: 50 },
    );
    crashed.start();
    await until(() => seen.length === 1);
    // Simulate the process dying: its timers stop, its lease is not renewed or released.
    (crashed as unknown as { stopping: boolean }).stopping = true;
    for (const k of ["timer", "renewTimer"] as const)
      clearInterval((crashed as unknown as Record<string, NodeJS.Timeout>)[k]);

    const done: number[] = [];
    const b = new JobRunner(
      repo,
      async (j) => {
        done.push(j.id);
        repo.updateIfState(j.id, ["queued"], { state: "succeeded" });
      },
      () => undefined,
      { leaseMs: 300, pollMs: 50 },
    );
    runners.push(b);
    b.start();
    await until(() => repo.get(job?.id ?? 0)?.state === "succeeded");
    expect(seen).toHaveLength(1);
    expect(done).toEqual([job?.id]);
    expect(repo.get(job?.id ?? 0)?.state).toBe("succeeded");
  });

  it("interrupts a running job when cancel is requested", async () => {
    t = tempDb();
    const [job] = seed(t, 1);
    const repo = createJobsRepo(t.db);
    let reason: unknown = null;
    const r = new JobRunner(
      repo,
      async (_j: JobRow, lease: Lease) => {
        if (!lease.signal.aborted)
          await new Promise<void>((resolve) => lease.signal.addEventListener("abort", () => resolve()));
        reason = lease.signal.reason;
        repo.updateIfState(_j.id, ["queued"], { state: "cancelled" });
      },
      () => undefined,
      { leaseMs: 300, pollMs: 50 },
    );
    runners.push(r);
    r.start();
    await until(() => r.isRunning(job?.id ?? 0));
    repo.updateIfState(job?.id ?? 0, ["queued"], { cancelRequested: true });
    await until(() => reason !== null);
    expect(reason).toBeInstanceOf(JobInterrupted);
    expect((reason as JobInterrupted).reason).toBe("cancel");
  });

  it("interrupt() stops a job it runs at once, without waiting for the next lease renewal", async () => {
    t = tempDb();
    const [job] = seed(t, 1);
    const repo = createJobsRepo(t.db);
    let reason: unknown = null;
    const r = new JobRunner(
      repo,
      async (_j: JobRow, lease: Lease) => {
        await new Promise<void>((resolve) => lease.signal.addEventListener("abort", () => resolve()));
        reason = lease.signal.reason;
      },
      () => undefined,
      { leaseMs: 60_000, pollMs: 50 },
    );
    runners.push(r);
    r.start();
    await until(() => r.isRunning(job?.id ?? 0));
    r.interrupt(job?.id ?? 0);
    // Well before the next renewal (the lease is a minute): only interrupt() can have stopped it.
    await until(() => reason !== null);
    expect((reason as JobInterrupted).reason).toBe("cancel");
  });

  it("limits concurrent jobs per host", async () => {
    t = tempDb();
    const jobs = seed(t, 4);
    const repo = createJobsRepo(t.db);
    let running = 0;
    let peak = 0;
    const r = new JobRunner(
      repo,
      async (j) => {
        running++;
        peak = Math.max(peak, running);
        await sleep(150);
        running--;
        repo.updateIfState(j.id, ["queued"], { state: "succeeded" });
      },
      () => undefined,
      { leaseMs: 1000, pollMs: 20, maxJobsPerHost: 2 },
    );
    runners.push(r);
    r.start();
    await until(() => jobs.every((j) => repo.get(j.id)?.state === "succeeded"));
    expect(peak).toBe(2);
    expect(jobs.map((j) => repo.get(j.id)?.state)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
  });

  it("tells a running job of changed options: at once through updateOptions, from elsewhere at lease renewal", async () => {
    t = tempDb();
    const [job] = seed(t, 1);
    const id = job?.id ?? 0;
    const repo = createJobsRepo(t.db);
    const heard: unknown[] = [];
    let watching = false;
    const r = new JobRunner(
      repo,
      async (_j: JobRow, lease: Lease) => {
        const unwatch = lease.watchOptions?.((o) => heard.push(o));
        watching = true;
        await new Promise<void>((resolve) => lease.signal.addEventListener("abort", () => resolve()));
        unwatch?.();
      },
      () => undefined,
      { leaseMs: 300, pollMs: 20 },
    );
    runners.push(r);
    r.start();
    await until(() => watching);
    // The service stores the options, then tells this process's runner.
    repo.updateIfState(id, ["queued"], { options: { bandwidthLimitBytesPerSecond: 1000 } });
    r.updateOptions(id, { bandwidthLimitBytesPerSecond: 1000 });
    expect(heard).toEqual([{ bandwidthLimitBytesPerSecond: 1000 }]);
    // Another process's service: stored only; the renewal reads it (and the same options are not heard twice).
    repo.updateIfState(id, ["queued"], { options: {} });
    await until(() => heard.length === 2);
    expect(heard[1]).toEqual({});
    r.interrupt(id);
  });

  it("enforces a host's maxConcurrency: with limit 1 two migrations never run on it at once, the second says why", async () => {
    t = tempDb();
    const [first, second] = seed(t, 2);
    const [a, b] = [first, second].map((j) => j?.id ?? 0) as [number, number];
    const source = first?.sourceHostId ?? 0;
    t.db.update(hosts).set({ maxConcurrency: 1 }).where(eq(hosts.id, source)).run();
    const repo = createJobsRepo(t.db);
    const events = createEventsRepo(t.db);
    const hub = new EventHub(events);
    const finish = new Map<number, () => void>();
    let running = 0;
    let peak = 0;
    const r = new JobRunner(
      repo,
      async (j) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => finish.set(j.id, resolve));
        running--;
        repo.updateIfState(j.id, ["queued"], { state: "succeeded" });
      },
      () => undefined,
      {
        leaseMs: 60_000,
        pollMs: 20,
        onWaiting: (job, reason) => hub.append(job.id, "job.log", { level: "info", message: reason }),
      },
    );
    runners.push(r);
    r.start();
    await until(() => finish.has(a));
    const waitLog = () => events.listAfter(0, { jobId: b, limit: 100 }).find((e) => e.type === "job.log");
    await until(() => waitLog() !== undefined);
    expect(waitLog()?.data).toMatchObject({ message: expect.stringMatching(/free slot on host "a[^"]*".*limit is 1/) });
    expect(r.isRunning(b)).toBe(false);
    // The claim itself refuses too (another process's runner asking directly).
    expect(repo.claim(b, "runner-elsewhere", 60_000)).toBeUndefined();

    finish.get(a)?.();
    await until(() => finish.has(b));
    finish.get(b)?.();
    await until(() => repo.get(b)?.state === "succeeded");
    expect(peak).toBe(1);
    expect(events.listAfter(0, { jobId: b, limit: 100 }).filter((e) => e.type === "job.log")).toHaveLength(1); // said once
  });
});

import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { LeaseLostError } from "../../src/db/repositories/jobs.ts";
import { createTransferJournal, JournalPlanMismatchError } from "../../src/db/repositories/transfer-journal.ts";
import { jobs } from "../../src/db/schema.ts";
import { tempDb } from "../support/helpers.ts";
import { insertJob } from "./support/fixture.ts";

const t = tempDb();
afterAll(() => t.cleanup());
const journal = createTransferJournal(t.db);
const counters = (id: number) =>
  t.db
    .select({ b: jobs.bytesTotal, bd: jobs.bytesDone, r: jobs.rangesTotal, rd: jobs.rangesDone })
    .from(jobs)
    .where(eq(jobs.id, id))
    .get();

describe("transfer journal", () => {
  it("plans once, refuses a different plan, confirms each range once, and takes confirmation back", () => {
    const job = insertJob(t.db);
    const plan = [
      [0, 100],
      [100, 100],
      [200, 50],
    ] as const;
    expect(journal.plan(job, "full", plan).map((r) => r.confirmed)).toEqual([false, false, false]);
    expect(counters(job)).toEqual({ b: 250, bd: 0, r: 3, rd: 0 });
    expect(journal.confirm(job, "full", [{ offset: 100, hash: "h1" }])).toBe(1);
    expect(
      journal.confirm(job, "full", [
        { offset: 100, hash: "h2" },
        { offset: 0, hash: "h0" },
      ]),
    ).toBe(1);
    expect(journal.ranges(job, "full")).toEqual([
      { offset: 0, length: 100, hash: "h0", confirmed: true },
      { offset: 100, length: 100, hash: "h1", confirmed: true },
      { offset: 200, length: 50, hash: null, confirmed: false },
    ]);
    expect(counters(job)).toEqual({ b: 250, bd: 200, r: 3, rd: 2 });
    // The same plan again (a resume) keeps the confirmations; another plan is refused.
    expect(journal.plan(job, "full", plan).filter((r) => r.confirmed)).toHaveLength(2);
    expect(() => journal.plan(job, "full", [[0, 250]])).toThrow(JournalPlanMismatchError);
    expect(journal.unconfirm(job, "full", [100, 200])).toBe(1);
    expect(journal.totals(job, "full")).toEqual({ bytesTotal: 250, bytesDone: 100, rangesTotal: 3, rangesDone: 1 });
    expect(counters(job)).toEqual({ b: 250, bd: 100, r: 3, rd: 1 });
    // Passes are separate.
    expect(journal.plan(job, "final", [[0, 10]])).toHaveLength(1);
    expect(journal.totals(job, "full").rangesTotal).toBe(3);
  });

  it("confirms and takes back a batch of more ranges than one statement binds, counting each once", () => {
    const job = insertJob(t.db);
    const plan = Array.from({ length: 1234 }, (_, i) => [i * 512, 512] as const);
    journal.plan(job, "final", plan);
    const offsets = plan.map(([o]) => o).filter((_, i) => i % 3 !== 0); // 822 ranges, one batch hash
    expect(
      journal.confirm(
        job,
        "final",
        [...offsets, offsets[0] as number].map((offset) => ({ offset, hash: "hb" })),
      ),
    ).toBe(822);
    expect(
      journal.confirm(
        job,
        "final",
        offsets.map((offset) => ({ offset, hash: "hc" })),
      ),
    ).toBe(0);
    expect(counters(job)).toEqual({ b: 1234 * 512, bd: 822 * 512, r: 1234, rd: 822 });
    expect(
      journal.unconfirm(
        job,
        "final",
        plan.map(([o]) => o),
      ),
    ).toBe(822);
    expect(journal.ranges(job, "final").every((r) => !r.confirmed && r.hash === null)).toBe(true);
    expect(counters(job)).toEqual({ b: 1234 * 512, bd: 0, r: 1234, rd: 0 });
  });

  it("bound to a lease, writes ranges and counters only while that lease holds", () => {
    const job = insertJob(t.db);
    const setOwner = (owner: string | null) =>
      t.db.update(jobs).set({ leaseOwner: owner }).where(eq(jobs.id, job)).run();
    setOwner("runner-a");
    const mine = journal.leased("runner-a");
    const stale = journal.leased("runner-b");
    expect(() => stale.plan(job, "full", [[0, 100]])).toThrow(LeaseLostError);
    expect(journal.ranges(job, "full")).toEqual([]);
    mine.plan(job, "full", [
      [0, 100],
      [100, 100],
    ]);
    expect(mine.confirm(job, "full", [{ offset: 0, hash: "h" }])).toBe(1);
    // Another runner took the job over: the old one's confirmation lands nowhere, not even in the ranges.
    setOwner("runner-b");
    expect(() => mine.confirm(job, "full", [{ offset: 100, hash: "h" }])).toThrow(LeaseLostError);
    expect(journal.ranges(job, "full").map((r) => r.confirmed)).toEqual([true, false]);
    expect(counters(job)).toEqual({ b: 200, bd: 100, r: 2, rd: 1 });
    expect(stale.confirm(job, "full", [{ offset: 100, hash: "h" }])).toBe(1);
    expect(counters(job)).toEqual({ b: 200, bd: 200, r: 2, rd: 2 });
  });
});

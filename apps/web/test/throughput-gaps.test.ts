import { describe, expect, it } from "vitest";
import { splitAtGaps, typicalInterval } from "../src/lib/throughput-gaps.ts";

/** Samples every `every` ms from `from`, `n` of them. */
const run = (from: number, n: number, every = 500) =>
  Array.from({ length: n }, (_, i) => ({ t: from + i * every, bytesPerSecond: 1000 + i }));

describe("throughput gaps", () => {
  it("keeps regular samples as one line", () => {
    const s = run(0, 10);
    expect(splitAtGaps(s)).toEqual([s]);
  });

  it("breaks the line where no sample came for more than about two intervals", () => {
    const copy = run(0, 10); // 0 .. 4.5 s
    const delta = run(30_000, 4); // after 25.5 s of nothing
    const segments = splitAtGaps([...copy, ...delta]);
    expect(segments).toEqual([copy, delta]);
  });

  it("does not break on jitter, only on a pause past the usual interval", () => {
    const s = [...run(0, 6), ...run(3_900, 6)]; // a 1.4 s pause: past 2.5 x 500 ms
    expect(splitAtGaps(s)).toHaveLength(2);
    const jitter = [...run(0, 6), ...run(3_100, 6)]; // 600 ms: jitter
    expect(splitAtGaps(jitter)).toHaveLength(1);
  });

  it("judges the interval by the median, so one long pause does not hide itself", () => {
    expect(typicalInterval([...run(0, 5), ...run(60_000, 5)])).toBe(500);
    expect(typicalInterval(run(0, 2))).toBeNull();
  });

  it("never treats a pause under a second as a gap, and honours an explicit limit", () => {
    const fast = [...run(0, 5, 100), ...run(1_200, 5, 100)]; // 800 ms pause at a 100 ms rhythm
    expect(splitAtGaps(fast)).toHaveLength(1);
    expect(splitAtGaps(fast, 500)).toHaveLength(2);
  });

  it("handles nothing and a single sample", () => {
    expect(splitAtGaps([])).toEqual([]);
    expect(splitAtGaps([{ t: 5, bytesPerSecond: 1 }])).toEqual([[{ t: 5, bytesPerSecond: 1 }]]);
  });
});

import type { ProgressMessage } from "@blockferry/contracts";
import { describe, expect, it } from "vitest";
import { ProgressThrottle } from "../../src/events/progress-throttle.ts";

const message = (disk: number | undefined, bytesDone: number, doneRuns: Array<[number, number]>): ProgressMessage => ({
  jobId: 7,
  phase: "full_copy",
  ...(disk === undefined ? {} : { disk }),
  bytesDone,
  bytesTotal: 100,
  rangesDone: 0,
  rangesTotal: 1,
  bytesPerSecond: 0,
  etaSeconds: null,
  doneRuns,
});

/** A 100 ms throttle on a clock the test moves, and what it emitted. */
function throttled() {
  let now = 1_000;
  const sent: ProgressMessage[] = [];
  const throttle = new ProgressThrottle(
    100,
    (p) => sent.push(p),
    () => now,
  );
  return { throttle, sent, advance: (ms: number) => (now += ms) };
}

describe("progress throttle", () => {
  it("coalesces each disk of a set on its own: counters and finished chunks stay with their disk", () => {
    const { throttle, sent, advance } = throttled();
    try {
      // First of each disk goes at once; the rest of the interval coalesces per disk.
      throttle.offer(message(0, 10, [[0, 1]]));
      throttle.offer(message(1, 20, [[5, 1]]));
      advance(10);
      throttle.offer(message(0, 30, [[1, 2]]));
      throttle.offer(message(1, 40, [[6, 3]]));
      throttle.offer(message(0, 50, [[3, 1]]));
      throttle.flush(7);
      expect(sent.map((p) => [p.disk, p.bytesDone, p.doneRuns])).toEqual([
        [0, 10, [[0, 1]]],
        [1, 20, [[5, 1]]],
        [
          0,
          50,
          [
            [1, 2],
            [3, 1],
          ],
        ],
        [1, 40, [[6, 3]]],
      ]);
    } finally {
      throttle.close();
    }
  });

  it("a one-disk job's messages (no disk) coalesce as disk 0's, one per interval", () => {
    const { throttle, sent, advance } = throttled();
    try {
      throttle.offer(message(undefined, 1, []));
      throttle.offer(message(undefined, 2, [[0, 1]]));
      throttle.offer(message(0, 3, [[1, 1]]));
      expect(sent.map((p) => p.bytesDone)).toEqual([1]);
      advance(100);
      throttle.offer(message(undefined, 4, []));
      expect(sent.map((p) => [p.bytesDone, p.doneRuns])).toEqual([
        [1, []],
        [
          4,
          [
            [0, 1],
            [1, 1],
          ],
        ],
      ]);
    } finally {
      throttle.close();
    }
  });
});

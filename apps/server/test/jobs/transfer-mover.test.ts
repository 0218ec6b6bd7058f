import { ExtentMap } from "@blockferry/changes";
import type { DataPath } from "@blockferry/contracts";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { TransferJournal } from "../../src/db/repositories/transfer-journal.ts";
import type { RemoteHosts } from "../../src/hosts/index.ts";
import { DirectPathUnavailableError, SMALL_RUNS_REASON } from "../../src/jobs/data-path.ts";
import { closeGaps, createTransferMover, toMapRuns } from "../../src/jobs/transfer-mover.ts";

describe("closeGaps", () => {
  it("merges runs separated by at most the gap, keeps the others", () => {
    const m = ExtentMap.fromRuns([
      [0, 2],
      [4, 1],
      [20, 3],
      [24, 1],
    ]);
    expect(closeGaps(m, 2).toJSON()).toEqual([
      [0, 5],
      [20, 5],
    ]);
    expect(closeGaps(m, 0).toJSON()).toEqual(m.toJSON());
  });

  it("always covers every changed chunk and adds only gap chunks", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(5000), { maxLength: 300 }), fc.nat(20), (chunks, gap) => {
        const m = ExtentMap.fromChunks(chunks);
        const closed = closeGaps(m, gap);
        expect(m.subtract(closed).isEmpty).toBe(true);
        // Every added chunk lies in a gap of at most `gap` chunks between two changed ones.
        closed.subtract(m).forEachRun((first, count) => {
          expect(count).toBeLessThanOrEqual(gap);
          expect(m.has(first - 1) && m.has(first + count)).toBe(true);
        });
      }),
    );
  });
});

describe("toMapRuns", () => {
  it("converts runs to covering cells of another size", () => {
    expect(
      toMapRuns(
        [
          [3, 2],
          [100, 1],
        ],
        4096,
        65536,
      ),
    ).toEqual([
      [0, 1],
      [6, 1],
    ]);
    expect(toMapRuns([[0, 32]], 65536, 1 << 20)).toEqual([[0, 2]]);
  });
});

describe("the mover's data path for extent copies", () => {
  // The copy itself is not run here: the hosts refuse every connection, so each copy ends at its first byte.
  // What the test reads is which data path the mover chose and whether it asked any host before choosing.
  const noCopy = new Error("no copy in this test");
  const setup = () => {
    const asked: string[] = [];
    const remote = {
      exec: (_id: number, command: string) => {
        asked.push(command);
        return Promise.reject(new Error("no remote call expected"));
      },
      connection: () => {
        throw noCopy;
      },
    } as unknown as RemoteHosts;
    const hosts = {
      get: (id: number) => {
        asked.push(`hosts.get ${id}`);
        return undefined;
      },
    };
    const mover = createTransferMover(remote, {} as TransferJournal, { hosts, audit: { record: () => undefined } });
    return { asked, mover };
  };
  const request = (dataPath: DataPath, extents: ExtentMap, said: [string, string | undefined][]) => ({
    jobId: 1,
    lease: "l",
    pass: "final",
    source: { hostId: 1, device: "/dev/vg0/snap" },
    target: { hostId: 2, device: "/dev/vg0/vm1" },
    targetReadsZero: false,
    dataPath,
    onDataPath: (ran: string, reason?: string) => said.push([ran, reason]),
    mapChunkBytes: 64 << 10,
    signal: new AbortController().signal,
    onProgress: () => undefined,
    extents,
    chunkBytes: 64 << 10,
    deviceBytes: 1 << 30,
  });
  const scattered = ExtentMap.fromRuns(Array.from({ length: 34 }, (_, i) => [i * 100, 1] as const));
  const long = ExtentMap.fromRuns([[0, 256]]);

  it("auto sends small scattered runs (a final delta) through the relay without probing or granting anything", async () => {
    const { asked, mover } = setup();
    const said: [string, string | undefined][] = [];
    await expect(mover.copyExtents(request("auto", scattered, said))).rejects.toBe(noCopy);
    expect(said).toEqual([["relay", SMALL_RUNS_REASON]]);
    expect(asked).toEqual([]);
  });

  it("auto tries the direct path for long runs; direct (explicit) tries it for any runs", async () => {
    const a = setup();
    const said: [string, string | undefined][] = [];
    await expect(a.mover.copyExtents(request("auto", long, said))).rejects.toBe(noCopy);
    expect(said).toEqual([["relay", "direct path not available: hosts not trusted"]]);
    expect(a.asked.length).toBeGreaterThan(0);
    const d = setup();
    await expect(d.mover.copyExtents(request("direct", scattered, []))).rejects.toThrow(DirectPathUnavailableError);
    expect(d.asked.length).toBeGreaterThan(0);
  });
});

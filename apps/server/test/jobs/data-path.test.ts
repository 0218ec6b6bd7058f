import { ExtentMap } from "@blockferry/changes";
import { describe, expect, it } from "vitest";
import {
  DirectPathUnavailableError,
  migrationEndpoint,
  openDataPath,
  relayForSmallRuns,
  SMALL_RUNS_REASON,
} from "../../src/jobs/data-path.ts";

const row = { address: "192.0.2.10", port: 2222 };
// No host is known: every remote call would be a bug, so the remote refuses all.
const deps = {
  remote: { exec: () => Promise.reject(new Error("no remote call expected")) },
  hosts: { get: () => undefined },
  audit: { record: () => undefined },
};
const request = { jobId: 1, sourceHostId: 1, targetHostId: 2, targetDevice: "/dev/vg0/vm1" };

describe("data path", () => {
  it("migration address: the server's address by default, host[:port] otherwise (IPv6 in brackets)", () => {
    expect(migrationEndpoint({ ...row, migrationAddress: null })).toEqual({ host: "192.0.2.10", port: 2222 });
    expect(migrationEndpoint({ ...row, migrationAddress: "10.77.0.2" })).toEqual({ host: "10.77.0.2", port: 22 });
    expect(migrationEndpoint({ ...row, migrationAddress: "mig.example:2200" })).toEqual({
      host: "mig.example",
      port: 2200,
    });
    expect(migrationEndpoint({ ...row, migrationAddress: "[fd00::2]:22" })).toEqual({ host: "fd00::2", port: 22 });
    expect(() => migrationEndpoint({ ...row, migrationAddress: "a:b:c" })).toThrow(DirectPathUnavailableError);
  });

  it("relay touches no host; auto falls back with the reason; direct fails with it", async () => {
    expect(await openDataPath(deps, { ...request, dataPath: "relay" })).toMatchObject({ ran: "relay" });
    const auto = await openDataPath(deps, { ...request, dataPath: "auto" });
    expect(auto).toMatchObject({ ran: "relay", reason: "direct path not available: hosts not trusted" });
    await expect(openDataPath(deps, { ...request, dataPath: "direct" })).rejects.toThrow(DirectPathUnavailableError);
  });
});

describe("auto's choice for an extent copy", () => {
  const KiB = 1024;
  it("small runs on average (the relay's SFTP rule) take the relay; long runs, direct and relay ask nothing", () => {
    const scattered = ExtentMap.fromRuns([
      [0, 1],
      [10, 2],
      [40, 1],
    ]);
    expect(relayForSmallRuns("auto", scattered, 64 * KiB)).toBe(SMALL_RUNS_REASON);
    expect(relayForSmallRuns("auto", ExtentMap.EMPTY, 64 * KiB)).toBe(SMALL_RUNS_REASON);
    // Mean 1 MiB (16 chunks of 64 KiB) is as long as the relay streams through dd: direct is worth its setup.
    const long = ExtentMap.fromRuns([
      [0, 16],
      [100, 16],
    ]);
    expect(relayForSmallRuns("auto", long, 64 * KiB)).toBeNull();
    expect(relayForSmallRuns("direct", scattered, 64 * KiB)).toBeNull();
    expect(relayForSmallRuns("relay", scattered, 64 * KiB)).toBeNull();
  });
});

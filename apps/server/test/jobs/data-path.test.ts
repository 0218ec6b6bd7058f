import { ExtentMap } from "@blockferry/changes";
import { HASH_TOOL_PROBE_COMMAND } from "@blockferry/lvm";
import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import type { HostRow } from "../../src/db/repositories/hosts.ts";
import { fingerprintOfKeyLine } from "../../src/hosts/index.ts";
import {
  DirectPathUnavailableError,
  hostQueue,
  migrationEndpoint,
  openDataPath,
  relayForSmallRuns,
  SMALL_RUNS_REASON,
} from "../../src/jobs/data-path.ts";

const row = { address: "192.0.2.10", port: 2222 };
// No host is known: every remote call would be a bug, so the remote refuses all.
const audit = { record: () => undefined };
const deps = {
  remote: { exec: () => Promise.reject(new Error("no remote call expected")) },
  hosts: { get: () => undefined },
  audit,
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

describe("a set's direct paths", () => {
  it("open and close at once, yet each host runs one access command at a time (authorized_keys is rewritten)", async () => {
    const hostKey = ssh2.utils.generateKeyPairSync("ed25519").public.split(" ").slice(0, 2).join(" ");
    const rows = new Map(
      [1, 2].map((id) => [
        id,
        {
          id,
          name: `h${id}`,
          address: `192.0.2.${id}`,
          port: 22,
          username: "root",
          migrationAddress: null,
          pinnedFingerprint: fingerprintOfKeyLine(hostKey),
        } as HostRow,
      ]),
    );
    const running = new Map<number, number>();
    const most = new Map<number, number>();
    const access: string[] = [];
    const remote = {
      async exec(id: number, command: string) {
        // The prechecks: the target's host key, a hash tool, the source reaching the target.
        const answer = (stdout: string) => ({ stdout, stderr: "", code: 0 });
        if (command.startsWith("cat /etc/ssh/")) return answer(`${hostKey}\n`);
        if (command === HASH_TOOL_PROBE_COMMAND) return answer("b2sum\n");
        if (command.includes("ssh-keyscan")) return answer("ok\n");
        // An access command: grant or revoke, on either host; it takes a moment, as over SSH.
        access.push(`${id}: ${command.slice(0, 40)}`);
        running.set(id, (running.get(id) ?? 0) + 1);
        most.set(id, Math.max(most.get(id) ?? 0, running.get(id) ?? 0));
        await new Promise((r) => setTimeout(r, 5));
        running.set(id, (running.get(id) ?? 0) - 1);
        return answer("");
      },
    };
    const d = { remote, hosts: { get: (id: number) => rows.get(id) }, audit, accessEdits: hostQueue() };
    const open = (disk: number) =>
      openDataPath(d, { ...request, disk, dataPath: "direct", targetDevice: `/dev/vg0/vm1-${disk}` });
    const paths = await Promise.all([open(0), open(1)]);
    expect(paths.map((p) => p.ran)).toEqual(["direct", "direct"]);
    await Promise.all(paths.map((p) => p.close("copied")));
    // Each disk's grant and revoke on each host: source and target, 2 disks, 2 commands each.
    expect(access).toHaveLength(8);
    expect(Object.fromEntries(most)).toEqual({ 1: 1, 2: 1 });
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

// Issue 4 prechecks against real LVM: each failing check names what is wrong and what to do.
import type { Host, PrecheckResult } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import { labPair } from "../lab/pairs.ts";
import type { apiClient } from "./support/api.ts";
import { currentLabHosts, sh } from "./support/lvm.ts";
import { startServerWithLabHosts, type startTestServer } from "./support/server.ts";

const { hosts } = labPair();
// Re-read: an earlier lab test may have rotated a host key.
const [lab1, lab2] = (await currentLabHosts(hosts)) as [LabHost, LabHost];

describe("prechecks", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  let src: Host;
  let dst: Host;
  beforeAll(async () => {
    ({ server, api, src, dst } = await startServerWithLabHosts(lab1, lab2));
    await sh(lab1, "lvcreate -q -y -L 16M -n pc1 vg0 && lvcreate -q -y -s -L 8M -n pc1snap vg0/pc1");
    await sh(lab2, "lvcreate -q -y -L 16M -n taken vg0");
  });
  afterAll(async () => {
    await sh(lab1, "lvremove -q -y vg0/pc1snap vg0/pc1 || true");
    await sh(lab2, "lvremove -q -y vg0/taken || true");
    await server?.close();
  });

  const check = (source: string, target: string) =>
    api.call<PrecheckResult>("POST", "/api/prechecks", {
      source: { hostId: src.id, vg: "vg0", lv: source },
      target: { hostId: dst.id, vg: "vg0", lv: target },
      vm: { controller: "none" },
    });
  const failed = (r: PrecheckResult) => r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.message}`);

  it("passes a sound plan and estimates the copy", async () => {
    const r = await check("pc1", "pc1");
    expect(failed(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.estimate?.bytes).toBe(16 * 1024 * 1024);
  });

  it("explains each problem", async () => {
    expect(failed(await check("nope", "x"))).toEqual([
      expect.stringMatching(/source volume: vg0\/nope does not exist/),
    ]);
    expect(failed(await check("pc1snap", "y"))).toEqual([expect.stringMatching(/is itself a snapshot/)]);
    expect(failed(await check("pc1", "taken"))).toEqual([expect.stringMatching(/already exists: choose another name/)]);
    // A name LVM reserves never reaches a host: the API refuses it with the field and the rule.
    await expect(check("pc1", "snapshot1")).rejects.toThrow(/400 .*body\/target\/lv .*must not start with 'snapshot'/);
  });

  it("refuses to start a migration whose prechecks fail, and says why", async () => {
    const job = await api.createMigration({
      source: { hostId: src.id, vg: "vg0", lv: "pc1" },
      target: { hostId: dst.id, vg: "vg0", lv: "taken" },
      vm: { controller: "none" },
    });
    await expect(api.waitFor(job.id, () => false, 60_000)).rejects.toThrow(/failed in prechecks: .*already exists/);
    expect(await sh(lab1, "lvs --noheadings -o lv_name vg0")).not.toMatch(/bf-\d+-s/);
  });
});

// Issue 19 on real LVM: a succeeded migration leaves its source LV tagged as migrated away, the inventory says so,
// decommission refuses while the LV is open, and then removes it after the typed confirmation.
import type { ErrorBody, Host, Inventory, Migration } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { LabHost } from "../lab/harness.ts";
import type { apiClient } from "./support/api.ts";
import { currentLabHosts, sh } from "./support/lvm.ts";
import { startServerWithLabHosts, type startTestServer } from "./support/server.ts";

const { hosts } = inject("lab");
const [lab1, lab2] = (await currentLabHosts(hosts)) as [LabHost, LabHost];
const LV = "decom1";

describe("decommissioning a migrated-away source LV on lab hosts", () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: ReturnType<typeof apiClient>;
  let srcHost: Host;
  let dstHost: Host;
  let holder = "";

  beforeAll(async () => {
    ({ server, api, src: srcHost, dst: dstHost } = await startServerWithLabHosts(lab1, lab2));
    // A run that stopped half-way may have left either copy behind.
    for (const lab of [lab1, lab2]) await sh(lab, `lvremove -q -y vg0/${LV} >/dev/null 2>&1 || true`);
  });
  afterAll(async () => {
    if (holder) await sh(lab1, `kill ${holder} 2>/dev/null || true`);
    await sh(lab2, `lvremove -q -y vg0/${LV} >/dev/null 2>&1 || true`);
    await server?.close();
  });

  const tags = async () => (await sh(lab1, `lvs --noheadings -o lv_tags vg0/${LV}`)).trim().split(",");
  const decommission = (id: number, confirm: string) =>
    api.send("POST", `/api/migrations/${id}/decommission`, { confirm });

  it("tags the kept source LV, refuses it while open, then removes it", async () => {
    await sh(
      lab1,
      `lvcreate -q -y -L 32M -n ${LV} vg0 && dd if=/dev/urandom of=/dev/vg0/${LV} bs=1M count=8 oflag=direct status=none`,
    );
    const job = await api.createMigration({
      source: { hostId: srcHost.id, vg: "vg0", lv: LV },
      target: { hostId: dstHost.id, vg: "vg0" },
      vm: { controller: "none" },
      cutover: "auto",
    });
    await api.waitFor(job.id, (m) => m.state === "succeeded", 420_000);

    const tag = `blockferry_migrated_${job.id}`;
    expect(await tags()).toContain(tag);
    const inventory = await api.call<Inventory>("GET", `/api/hosts/${srcHost.id}/inventory`);
    expect(inventory.lvs.find((l) => l.vg === "vg0" && l.name === LV)?.migratedAway).toEqual({ jobId: job.id });

    const wrong = await decommission(job.id, `vg0/${LV}x`);
    expect(wrong.status).toBe(400);

    // Something still reads the old copy: lvs shows the open bit, and the removal is refused with the reason.
    holder = (
      await sh(lab1, `setsid sh -c 'exec 3</dev/vg0/${LV}; exec sleep 300' >/dev/null 2>&1 </dev/null & echo $!`)
    ).trim();
    for (let i = 0; !(await sh(lab1, `lvs --noheadings -o lv_attr vg0/${LV}`)).trim().startsWith("-wi-ao"); i++)
      if (i > 100) throw new Error("the holder never opened the LV");
    const open = await decommission(job.id, `vg0/${LV}`);
    expect(open.status).toBe(409);
    expect(((await open.json()) as ErrorBody).error.details).toEqual({ reason: "source_open" });
    await sh(lab1, `kill ${holder}; while kill -0 ${holder} 2>/dev/null; do sleep 0.1; done`);
    holder = "";

    const ok = await decommission(job.id, `vg0/${LV}`);
    expect(ok.status).toBe(200);
    const m = (await ok.json()) as Migration;
    expect(m.sourceDecommissionedAt).not.toBeNull();
    expect(await sh(lab1, `lvs --noheadings -o lv_name vg0 2>&1`)).not.toMatch(new RegExp(`\\b${LV}\\b`));
    // The migrated copy on the target is untouched.
    expect(await sh(lab2, `lvs --noheadings -o lv_name vg0/${LV}`)).toContain(LV);
  }, 600_000);
});

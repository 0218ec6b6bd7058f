import { afterAll, describe, expect, it } from "vitest";
import { type LabHost, labExec, labHost } from "../harness.ts";
import { labPair } from "../pairs.ts";
import { vmDefaults } from "../vm/domain.ts";
import { checkVm, createVm, removeVm, shutdownVm, type VmCheck, vmState } from "../vm/vm.ts";

// A libvirt VM (the bare-metal guest of vm/guest/) inside a lab host, nested TCG. Opt in with BF_LAB_VM=1, which
// also makes global setup boot hosts with libvirtd (see e2e/lab/README.md for the figures).
const enabled = process.env.BF_LAB_VM === "1";
const bootTimeoutS = Number(process.env.BF_LAB_VM_BOOT_MINUTES ?? 10) * 60;
const name = `vmt${process.pid}`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const lastSeqs = (check: VmCheck) => check.disks.map((disk) => disk.lastSeq);

describe.skipIf(!enabled)("a libvirt VM inside a lab host", () => {
  let lab1: LabHost;

  afterAll(async () => {
    if (lab1) await removeVm(lab1, name);
  });

  it(
    "writes checked records to a classic and a thin disk, powers off on virsh shutdown, and checks ok",
    async () => {
      const first = labPair().hosts[0];
      if (!first) throw new Error("no lab host");
      lab1 = await labHost(first.labDir, first.name);

      const spec = { ...vmDefaults, name, thin: true };
      const creating = Date.now();
      const created = await createVm(lab1, spec, bootTimeoutS);
      console.log(
        `vm: created in ${seconds(Date.now() - creating)} (LVs, define, start); virsh start ${seconds(created.startMs)}, ` +
          `first record ${seconds(created.firstRecordMs)} after it began`,
      );
      const lvs = await labExec(lab1, `lvs --noheadings -o lv_name,pool_lv vg0 | grep ${name}-`);
      expect(lvs.stdout).toMatch(new RegExp(`${name}-disk1\\s+${name}-pool`));

      const checked = Date.now();
      const early = await checkVm(lab1, name);
      console.log(`vm: check ${seconds(Date.now() - checked)} over SSH (domstate, then bf-vm-check)`);
      expect(early.ok).toBe(true);
      expect(early.disks.map((disk) => disk.device)).toEqual(["/dev/hda", "/dev/hdb"]);

      // Records keep coming: ask again until every disk is past where it was (a check pauses the writer briefly).
      const since = Date.now();
      let later = early;
      while (!lastSeqs(later).every((seq) => seq > Math.max(...lastSeqs(early)))) {
        if (Date.now() - since > 600_000) throw new Error(`records stopped at ${lastSeqs(later)}`);
        later = await checkVm(lab1, name);
      }
      expect(later.ok).toBe(true);
      const perSecond = (Math.min(...lastSeqs(later)) - Math.min(...lastSeqs(early))) / ((Date.now() - since) / 1000);
      console.log(`vm: ${perSecond.toFixed(2)} records/s per disk (asked ${spec.rate}, a check pauses the writer)`);

      const shutdownMs = await shutdownVm(lab1, name);
      console.log(`vm: shut off ${seconds(shutdownMs)} after virsh shutdown`);
      expect(await vmState(lab1, name)).toBe("shut off");

      // A shut-off VM is booted for the check (its boot check sees the disks as shutdown left them) and shut again.
      const rebooted = Date.now();
      const after = await checkVm(lab1, name, bootTimeoutS);
      console.log(
        `vm: check of the shut-off VM (start, boot check, check, shutdown) ${seconds(Date.now() - rebooted)}`,
      );
      expect(after).toMatchObject({ ok: true });
      for (const [index, disk] of after.disks.entries()) {
        expect(disk.torn).toBe(0);
        expect(disk.lastSeq).toBeGreaterThanOrEqual(later.disks[index]?.lastSeq ?? Number.POSITIVE_INFINITY);
      }
      expect(await vmState(lab1, name)).toBe("shut off");
    },
    bootTimeoutS * 3 * 1000,
  );
});

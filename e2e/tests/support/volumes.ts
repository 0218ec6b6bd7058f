import type { LabHost } from "../../lab/harness.ts";
import { sh } from "./lvm.ts";

/** The full copy's range: the unit it confirms, and resumes by (apps/server/src/transfer/engine.ts). */
export const FULL_COPY_RANGE_MIB = 64;

/**
 * A source LV of `ranges` full-copy ranges with `dataMiB` of random data at the start of each, zeroes elsewhere:
 * a copy confirms ranges one by one with little data on the wire (zero blocks are not sent), so a test can break
 * something with some ranges confirmed and others not, without copying hundreds of MiB under TCG.
 */
export async function rangedVolume(host: LabHost, vg: string, lv: string, ranges: number, dataMiB: number) {
  const device = `/dev/${vg}/${lv}`;
  await sh(
    host,
    `lvcreate -q -y -L ${ranges * FULL_COPY_RANGE_MIB}m -n ${lv} ${vg} && ` +
      `dd if=/dev/zero of=${device} bs=4M oflag=direct status=none; ` +
      `for r in $(seq 0 ${ranges - 1}); do ` +
      `dd if=/dev/urandom of=${device} bs=1M count=${dataMiB} seek=$((r * ${FULL_COPY_RANGE_MIB})) oflag=direct conv=notrunc status=none; done`,
  );
  return device;
}

import { type LabHost, labExec, labHost } from "../../lab/harness.ts";

/** Lab-side helpers: plain commands a hypervisor admin would type (test fixtures, not product code). */
export async function sh(host: LabHost, command: string): Promise<string> {
  return (await labExec(host, command, { timeoutMs: 300_000 })).stdout;
}

export async function sha256(host: LabHost, device: string): Promise<string> {
  return (await sh(host, `dd if=${device} bs=4M iflag=direct status=none | sha256sum`)).split(" ")[0] ?? "";
}

/** LVs, snapshots and our processes a test must not leave behind. */
export async function leftovers(host: LabHost, vg: string): Promise<{ lvs: string[]; processes: string[] }> {
  const lvs = (await sh(host, `lvs --noheadings -o lv_name,lv_tags ${vg} 2>/dev/null || true`))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.includes("blockferry") && /bf-\d+-s\d+/.test(l));
  const processes = (await sh(host, "ps -eo args | grep -E '^(dd|split|b2sum|sha256sum) ' || true"))
    .split("\n")
    .filter(Boolean);
  return { lvs, processes };
}

/** The hosts as they are now: an earlier lab test may have rotated a host key (rekey) since the lab booted. */
export function currentLabHosts(hosts: readonly LabHost[]): Promise<LabHost[]> {
  return Promise.all(hosts.map((h) => labHost(h.labDir, h.name)));
}

/** `device`'s SHA-256 on two hosts, read at the same time: each read costs its TCG guest seconds. */
export function sha256OnBoth(a: LabHost, b: LabHost, device: string): Promise<[string, string]> {
  return Promise.all([sha256(a, device), sha256(b, device)]);
}

/**
 * LVs of job `id` left on a host: its snapshots (bf-ID-...) and, among the LVs named `prefix`..., those it created
 * (tag bf-job-ID). Other lab files run servers of their own, whose job IDs are the same small numbers: an LV one of
 * their migrations left (tagged bf-job-1 too) is not this job's.
 */
export async function lvsOfJob(host: LabHost, vg: string, id: number, prefix: string): Promise<string[]> {
  const rows = await sh(host, `lvs --noheadings -o lv_name,lv_tags ${vg}`);
  return rows
    .split("\n")
    .map((l) => l.trim())
    .filter(
      (l) =>
        l.startsWith(`bf-${id}-`) || (l.startsWith(prefix) && l.split(/\s+/)[1]?.split(",").includes(`bf-job-${id}`)),
    );
}

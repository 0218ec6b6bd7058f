import { randomBytes } from "node:crypto";
import type { LabHost } from "../harness.ts";
import { sshExec } from "../ssh.ts";
import {
  checkSocket,
  consoleLog,
  diskLv,
  domainXml,
  thinPoolLv,
  type VmSpec,
  validateSpec,
  vmDefaults,
} from "./domain.ts";

/** The lab's volume group (global setup and the README create it on every host). */
export const vmVg = "vg0";

export interface DiskCheck {
  device: string;
  /** Intact records the ring holds now. */
  records: number;
  lastSeq: number;
  /** Records missing or damaged between the oldest the ring holds and lastSeq. */
  torn: number;
  /** 1 when the slot after lastSeq holds a damaged record: a write cut off before its flush (not an error). */
  unflushed: number;
}

export interface VmCheck {
  ok: boolean;
  disks: DiskCheck[];
}

export interface CreatedVm {
  /** From `virsh start` to the VM's first record flushed on every disk. */
  firstRecordMs: number;
  startMs: number;
}

const nameOnly = (name: string) => {
  validateSpec({ ...vmDefaults, name });
  return name;
};

async function sh(host: LabHost, command: string, input?: string, timeoutMs = 120_000): Promise<string> {
  return (await sshExec(host, command, { input, timeoutMs })).stdout.trim();
}

/** `virsh domstate`: "running", "shut off", ...; undefined when no such domain is defined. */
export async function vmState(host: LabHost, name: string): Promise<string | undefined> {
  const result = await sshExec(host, `virsh -q domstate ${nameOnly(name)}`, { allowFailure: true });
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/**
 * A remote wait: polls `test` (a shell condition) every 0.5 s for up to `seconds`; exits 1 on timeout. Polled on
 * the host, not over SSH: each round trip would cost the busy TCG host more than the test does.
 */
const waitFor = (test: string, seconds: number) =>
  `i=0; until ${test}; do i=$((i + 1)); [ $i -gt ${seconds * 2} ] && exit 1; sleep 0.5; done`;

/** How long a VM may take to boot to its first record: ~16 s nested on a busy machine (e2e/lab/README.md). */
export const defaultBootTimeoutS = 600;

const firstRecordWritten = (name: string) => `grep -q 'bf-vm: first record written' ${consoleLog(name)} 2>/dev/null`;

/** LVs (the second one thin when asked), the domain defined and started; resolves once its first record is flushed. */
export async function createVm(host: LabHost, spec: VmSpec, bootTimeoutS = defaultBootTimeoutS): Promise<CreatedVm> {
  validateSpec(spec);
  if (await vmState(host, spec.name)) throw new Error(`${host.name}: a domain ${spec.name} exists already`);
  const lvs = Array.from({ length: spec.disks }, (_, index) => {
    const lv = diskLv(spec.name, index);
    if (spec.thin && index === 1) {
      const pool = thinPoolLv(spec.name);
      return `lvcreate -q -y -L ${spec.size} -T ${vmVg}/${pool} && lvcreate -q -y -V ${spec.size} -T ${vmVg}/${pool} -n ${lv}`;
    }
    return `lvcreate -q -y -L ${spec.size} -n ${lv} ${vmVg}`;
  });
  await sh(host, lvs.join(" && "));
  const xml = domainXml(spec, vmVg, randomBytes(8).toString("hex"));
  const file = `/run/bf-vm/${spec.name}.xml`;
  await sh(host, `rm -f ${consoleLog(spec.name)} && cat >${file} && virsh -q define ${file} >/dev/null`, xml);
  return startVm(host, spec.name, bootTimeoutS);
}

/** `virsh start`, then waits for the first record of this boot. */
export async function startVm(host: LabHost, name: string, bootTimeoutS = defaultBootTimeoutS): Promise<CreatedVm> {
  const log = consoleLog(nameOnly(name));
  const started = Date.now();
  // The console log is appended to across boots: only this boot's "first record" line counts.
  await sh(host, `: >${log} 2>/dev/null; virsh -q start ${name} >/dev/null`);
  const startMs = Date.now() - started;
  await sh(host, waitFor(firstRecordWritten(name), bootTimeoutS), undefined, (bootTimeoutS + 30) * 1000).catch(
    (error: unknown) => {
      throw new Error(`${host.name}: VM ${name} wrote no record in ${bootTimeoutS} s (see ${log}): ${error}`);
    },
  );
  return { startMs, firstRecordMs: Date.now() - started };
}

/** `virsh shutdown` (ACPI power button) and waits until the domain is shut off; returns how long that took. */
export async function shutdownVm(host: LabHost, name: string, timeoutS = 120): Promise<number> {
  const started = Date.now();
  await sh(
    host,
    `virsh -q shutdown ${nameOnly(name)} >/dev/null && ${waitFor(`[ "$(virsh -q domstate ${name})" = "shut off" ]`, timeoutS)}`,
    undefined,
    (timeoutS + 20) * 1000,
  ).catch((error: unknown) => {
    throw new Error(`${host.name}: VM ${name} did not power off within ${timeoutS} s of virsh shutdown: ${error}`);
  });
  return Date.now() - started;
}

/**
 * Asks the VM to check every disk (from inside, past its page cache). A VM that is shut off is started for the
 * check (its boot check then covers the disks as they were) and shut down again.
 */
export async function checkVm(host: LabHost, name: string, bootTimeoutS = defaultBootTimeoutS): Promise<VmCheck> {
  const state = await vmState(host, name);
  if (state === undefined) throw new Error(`${host.name}: no domain ${name}`);
  const wasOff = state === "shut off";
  if (wasOff) await startVm(host, name, bootTimeoutS);
  else if (state !== "running") throw new Error(`${host.name}: VM ${name} is ${state}, not running or shut off`);
  const answer = await sh(host, `bf-vm-check ${checkSocket(name)} 120`, undefined, 150_000);
  if (wasOff) await shutdownVm(host, name);
  return JSON.parse(answer) as VmCheck;
}

/** Destroys and undefines the domain and removes its LVs (and thin pool). Safe on a half-created VM. */
export async function removeVm(host: LabHost, name: string): Promise<void> {
  nameOnly(name);
  await sh(
    host,
    [
      `virsh -q destroy ${name} >/dev/null 2>&1`,
      `virsh -q undefine ${name} >/dev/null 2>&1`,
      `for lv in $(lvs --noheadings -o lv_name ${vmVg} | awk '{print $1}' | grep -E '^${name}-(disk[0-9]+|pool)$'); do lvremove -q -y ${vmVg}/$lv || exit 1; done`,
      `rm -f /run/bf-vm/${name}.xml ${consoleLog(name)}`,
    ].join("; "),
  );
}

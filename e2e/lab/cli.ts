// `pnpm lab <command>`: qemu hypervisors with real LVM for tests and for trying Blockferry.
import { spawn } from "node:child_process";
import { dirname, resolve } from "node:path";
import { bootLab, labExec, labHost, labHostNames, labStatus, rebootHost, rekeyHost, shutdownLab } from "./harness.ts";
import { defaultLabDir } from "./paths.ts";
import { sshArgs } from "./ssh.ts";
import { type Firmware, type VmSpec, vmDefaults } from "./vm/domain.ts";
import { checkVm, createVm, removeVm, shutdownVm } from "./vm/vm.ts";

const usage = `usage: pnpm lab <command>
  up [N] [--vm]             boot lab1..labN (default 2); running hosts are kept, disks persist
                            --vm: hosts with libvirtd and qemu (bigger image, more memory) for lab VMs
  vm create HOST NAME [--disks N] [--size SIZE] [--thin] [--rate N] [--memory MIB] [--firmware qboot|seabios]
                            a libvirt VM (qemu TCG) on LVs in vg0 writing checked records to every disk
  vm check HOST NAME        {"ok", "disks": [...]} from a check inside the VM (a shut-off VM is booted for it)
  vm shutdown HOST NAME     virsh shutdown (ACPI) and wait until it is off
  vm remove HOST NAME       destroy, undefine, and remove its LVs
  down [--wipe]             stop all hosts (--wipe also deletes disks and keys)
  status                    hosts, ports, pids, host key fingerprints
  ssh HOST [CMD...]         root shell or command on a host
  reboot HOST               clean reboot (LVs and host key survive)
  rekey [--reboot] HOST     new SSH host key: sshd restarts with it (or the host reboots into it)
  workload HOST start DEVICE [KIB_PER_SEC] | stop | status
                            the stand-in VM: random writes to an LV until stopped
state: ${defaultLabDir()} (BLOCKFERRY_LAB_DIR overrides)`;

const labDir = defaultLabDir();
const say = (line: string) => process.stderr.write(`lab: ${line}\n`);

async function hostArg(name: string | undefined) {
  if (!name || !/^lab\d+$/.test(name)) throw new Error(`expected a host name like lab1, got ${name ?? "nothing"}`);
  return labHost(labDir, name);
}

/** Quotes one word for the guest's shell. */
const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;

/** `--flag VALUE` from argv, or the default. */
function option(argv: string[], flag: string, fallback: string): string {
  const at = argv.indexOf(flag);
  if (at < 0) return fallback;
  const value = argv[at + 1];
  if (value === undefined || value.startsWith("--")) throw new Error(`${flag} needs a value`);
  return value;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function vmCommand(argv: string[]): Promise<number> {
  const [action, hostName, name] = argv;
  const host = await hostArg(hostName);
  if (!name) throw new Error(usage);
  switch (action) {
    case "create": {
      const spec: VmSpec = {
        name,
        disks: Number(option(argv, "--disks", String(vmDefaults.disks))),
        size: option(argv, "--size", vmDefaults.size),
        thin: argv.includes("--thin"),
        rate: Number(option(argv, "--rate", String(vmDefaults.rate))),
        memoryMiB: Number(option(argv, "--memory", String(vmDefaults.memoryMiB))),
        firmware: option(argv, "--firmware", vmDefaults.firmware) as Firmware,
      };
      const created = await createVm(host, spec);
      say(`${name} started in ${seconds(created.startMs)}, first record after ${seconds(created.firstRecordMs)}`);
      return 0;
    }
    case "check": {
      const result = await checkVm(host, name);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return result.ok ? 0 : 1;
    }
    case "shutdown":
      say(`${name} shut off ${seconds(await shutdownVm(host, name))} after virsh shutdown`);
      return 0;
    case "remove":
      await removeVm(host, name);
      return 0;
    default:
      throw new Error(usage);
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up": {
      const count = Number(rest.find((arg) => !arg.startsWith("--")) ?? process.env.BLOCKFERRY_LAB_HOSTS ?? 2);
      const started = Date.now();
      const hosts = await bootLab(count, { dir: labDir, log: say, vm: rest.includes("--vm") });
      say(`${hosts.length} host(s) ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      for (const host of hosts) {
        process.stdout.write(`${host.name}\troot@127.0.0.1 -p ${host.port}\t${host.hostKeyFingerprintSha256}\n`);
      }
      // Absolute: the server reads key files relative to its own --key-dir, not to where this was run.
      const key = resolve(hosts[0]?.privateKeyPath ?? "");
      process.stdout.write(`private key: ${key}\n`);
      say(`use it with: BLOCKFERRY_KEY_DIR=${dirname(key)} pnpm start, key file ${key}`);
      return 0;
    }
    case "down": {
      const wipe = rest.includes("--wipe");
      const all = await labStatus(labDir);
      const running = all.filter((h) => h.running);
      await shutdownLab({ dir: labDir, wipe });
      for (const h of running) process.stdout.write(`stopped ${h.name} (pid ${h.pid}, port ${h.port})\n`);
      if (running.length === 0) process.stdout.write(`no lab host was running in ${labDir}\n`);
      if (all.length > 0)
        process.stdout.write(
          wipe
            ? `deleted the disks and keys of ${all.map((h) => h.name).join(", ")} in ${labDir}\n`
            : `disks kept in ${labDir} (pnpm lab down --wipe deletes them)\n`,
        );
      return 0;
    }
    case "status": {
      const hosts = await labStatus(labDir);
      if (hosts.length === 0) process.stdout.write("no lab hosts (pnpm lab up)\n");
      for (const status of hosts) {
        const host = await labHost(labDir, status.name);
        const state = status.running ? `running pid ${status.pid}` : "stopped";
        process.stdout.write(`${host.name}\t127.0.0.1:${host.port}\t${state}\t${host.hostKeyFingerprintSha256}\n`);
      }
      return 0;
    }
    case "ssh": {
      const host = await hostArg(rest[0]);
      const remote = rest.slice(1);
      const args = [...sshArgs(host), ...(remote.length === 0 ? ["-t"] : [remote.join(" ")])];
      const child = spawn("ssh", args, { stdio: "inherit" });
      return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
    }
    case "reboot": {
      const started = Date.now();
      const host = await rebootHost(await hostArg(rest[0]));
      say(`${host.name} rebooted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return 0;
    }
    case "rekey": {
      const host = await rekeyHost(await hostArg(rest.find((arg) => !arg.startsWith("--"))), {
        reboot: rest.includes("--reboot"),
      });
      process.stdout.write(`${host.name}\t${host.hostKeyFingerprintSha256}\n`);
      return 0;
    }
    case "workload": {
      const host = await hostArg(rest[0]);
      const action = rest[1];
      if (action !== "start" && action !== "stop" && action !== "status") throw new Error(usage);
      const words = ["bf-workload", action, ...rest.slice(2)].map(quote).join(" ");
      const result = await labExec(host, words, { allowFailure: true });
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      return result.code;
    }
    case "vm":
      return vmCommand(rest);
    case "hosts":
      process.stdout.write(`${(await labHostNames(labDir)).join("\n")}\n`);
      return 0;
    default:
      process.stderr.write(`${usage}\n`);
      return command === undefined || command === "help" || command === "--help" ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`lab: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);

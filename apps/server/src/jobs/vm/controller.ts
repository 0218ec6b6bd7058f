import type { VmControl } from "@blockferry/contracts";
import { shQuote } from "@blockferry/lvm";
import { codeOf, DomainError, messageOf } from "../../errors.ts";
import type { HostShell } from "../context.ts";
import { devicePath } from "../lvm-ops.ts";
import { type DiskMove, libvirtController } from "./libvirt.ts";
import { redactSecrets } from "./redact.ts";

/** Stops the VM on the source, starts it on the target; restarts it on the source after a cancel. */
export interface VmController {
  /** Whether the VM is defined on the target before the stop (libvirt): cancel and rollback then undefine it. */
  readonly definesOnTarget: boolean;
  stopSource(signal: AbortSignal): Promise<void>;
  /** Defines the VM on the target, shut off, with every disk of the set pointing at its target LV. */
  defineTarget(signal: AbortSignal): Promise<void>;
  startTarget(signal: AbortSignal): Promise<void>;
  /** Undo of defineTarget, for cancel and rollback; whether there was a definition to remove. */
  undefineTarget(signal: AbortSignal): Promise<boolean>;
  /** Undo of stopSource, for cancel; a no-op where the operator gave no command. */
  restartSource(signal: AbortSignal): Promise<void>;
  /** Whether the VM runs on that host now; null when this controller cannot tell (no status command). */
  runningOn(host: "source" | "target", signal: AbortSignal): Promise<boolean | null>;
}

const noVm: VmController = {
  definesOnTarget: false,
  async stopSource() {},
  async defineTarget() {},
  async startTarget() {},
  async undefineTarget() {
    return false;
  },
  async restartSource() {},
  async runningOn() {
    return null;
  },
};

/** Where the server log gets an operator command (debug level, redacted); pino's logger fits. */
export type VmCommandLogger = { debug(obj: object, msg: string): void };

/**
 * An operator's VM command failed. Its message (the job's error, its events, every websocket client) describes the
 * step, the host by name and the outcome, with the stderr tail; never the command, which may hold credentials.
 */
export class VmCommandError extends DomainError {
  constructor(
    code: string,
    message: string,
    /** The command's exit status, when it ran to an exit. */
    readonly exitCode?: number,
  ) {
    super(code, message);
  }
}

const field = (err: unknown, key: string): unknown =>
  typeof err === "object" && err !== null && key in err ? (err as Record<string, unknown>)[key] : undefined;

/** The outcome of a failed command in words, or null for a failure that names no command (host unreachable...). */
function outcomeOf(err: unknown, command: string): string | null {
  const exitCode = field(err, "exitCode");
  if (typeof exitCode === "number") return `exited with ${exitCode}`;
  const signal = field(err, "signal");
  if (typeof signal === "string") return `was killed by ${signal}`;
  switch (codeOf(err)) {
    case "REMOTE_COMMAND_TIMEOUT":
      return `timed out after ${Math.round(Number(field(err, "timeoutMs")) / 1000)} s (killed)`;
    case "REMOTE_COMMAND_CANCELLED":
      return "was cancelled (killed)";
    case "REMOTE_OUTPUT_TOO_LARGE":
      return "printed too much output (killed)";
    case "HOST_CONNECTION_LOST":
      return "lost its connection while running; its outcome is unknown";
  }
  // Any other error whose text quotes the command must not carry it on either.
  return messageOf(err).includes(command.slice(0, 40)) ? `failed (${codeOf(err)})` : null;
}

/**
 * The start command for the target: `{device}` becomes disk 0's target device path and `{devices}` every disk's,
 * in disk order, each quoted.
 */
export const fillDevices = (template: string, devices: readonly string[]) =>
  template.replaceAll("{devices}", devices.map(shQuote).join(" ")).replaceAll("{device}", shQuote(devices[0] ?? ""));

/** `commands`: operator-written shell run as given, the start command with the target devices (fillDevices). */
function commandsController(
  vm: Extract<VmControl, { controller: "commands" }>,
  source: HostShell,
  target: HostShell,
  devices: readonly string[],
  logger?: VmCommandLogger,
): VmController {
  const timeoutMs = (vm.timeoutSeconds ?? 120) * 1000;
  const run = async (
    step: string,
    role: "source" | "target",
    shell: HostShell,
    command: string,
    signal: AbortSignal,
  ) => {
    const where = `${step} on ${role} host ${shell.name}`;
    logger?.debug({ hostId: shell.hostId, command: redactSecrets(command) }, `running the ${where}`);
    try {
      await shell.run(command, { timeoutMs, signal });
    } catch (err) {
      const outcome = outcomeOf(err, command);
      if (outcome === null) throw err;
      const stderr = String(field(err, "stderrTail") ?? field(err, "stderr") ?? "");
      const tail = redactSecrets(stderr.replaceAll(command, "<command>")).trim().split("\n").slice(-3).join(" | ");
      logger?.debug(
        { hostId: shell.hostId, command: redactSecrets(command), code: codeOf(err), stderr: tail },
        `the ${where} ${outcome}`,
      );
      const exitCode = field(err, "exitCode");
      throw new VmCommandError(
        codeOf(err),
        `${where} ${outcome}${tail ? `: ${tail}` : ""}`,
        typeof exitCode === "number" ? exitCode : undefined,
      );
    }
  };
  return {
    definesOnTarget: false,
    async stopSource(signal) {
      await run("stop command", "source", source, vm.stopSource, signal);
    },
    async defineTarget() {},
    async startTarget(signal) {
      await run("start command", "target", target, fillDevices(vm.startTarget, devices), signal);
    },
    async undefineTarget() {
      return false;
    },
    async restartSource(signal) {
      if (vm.startSource) await run("start command", "source", source, vm.startSource, signal);
    },
    async runningOn(role, signal) {
      if (!vm.status) return null;
      const shell = role === "source" ? source : target;
      try {
        await run("status command", role, shell, vm.status, signal);
        return true;
      } catch (err) {
        // LSB status codes: 3 is "not running"; anything else is a failure to find out.
        if (err instanceof VmCommandError && err.exitCode === 3) return false;
        throw err;
      }
    },
  };
}

/** The VM's controller for a migration of `disks` (disk 0 first). */
export function vmControllerFor(
  vm: VmControl,
  source: HostShell,
  target: HostShell,
  disks: readonly DiskMove[],
  logger?: VmCommandLogger,
): VmController {
  switch (vm.controller) {
    case "none":
      return noVm;
    case "commands":
      if (!disks.length) throw new Error("a migration without disks has no VM to start");
      return commandsController(
        vm,
        source,
        target,
        disks.map((d) => devicePath(d.targetVg, d.targetLv)),
        logger,
      );
    case "libvirt":
      return libvirtController(vm, source, target, disks);
  }
}

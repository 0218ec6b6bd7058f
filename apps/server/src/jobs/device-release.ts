import { setTimeout as sleep } from "node:timers/promises";
import {
  type DeviceHolder,
  deviceHoldersCommand,
  killPidsCommand,
  lvDevicePath,
  parseDeviceHolders,
  validateLvName,
  validateVgName,
} from "@blockferry/lvm";
import type { HostShell } from "./context.ts";

/** How long clean-up waits for a device to be let go of before it gives up (and says who holds it). */
export const DEVICE_RELEASE_TIMEOUT_MS = 60_000;
const POLL_MS = 500;

export class DeviceBusyError extends Error {
  readonly code = "DEVICE_BUSY";
  constructor(host: string, device: string, holders: DeviceHolder[], waitedMs: number) {
    const who = holders.map((h) => `${h.pid} (${h.ours ? "ours" : "not ours"}: ${h.args.slice(0, 80)})`).join(", ");
    super(`${device} on ${host} still held after ${Math.round(waitedMs / 1000)} s by ${who}`);
  }
}

export interface ReleaseOptions {
  /**
   * Kill processes of ours that hold the device (a command whose kill got lost with its connection). Not where a
   * VM may have been started from the device: a VM started by our start command carries our mark too.
   */
  killOurs?: boolean;
  timeoutMs?: number;
  /** Called once, when the device is found held (for the job log). */
  onHeld?(holders: DeviceHolder[]): void;
}

/**
 * Waits until no process holds `vg/lv` open, so it can be removed: a command of ours whose process group was
 * killed may still sit in uninterruptible I/O on a slow or suspended disk, and dies only once that I/O returns.
 * Others (a VM, an operator's tool) are waited for, never killed. Bounded: throws DeviceBusyError naming them.
 */
export async function waitForDeviceRelease(
  shell: HostShell,
  vg: string,
  lv: string,
  o: ReleaseOptions & { signal?: AbortSignal } = {},
): Promise<void> {
  const signal = o.signal ?? new AbortController().signal;
  const device = lvDevicePath(validateVgName(vg), validateLvName(lv));
  const started = Date.now();
  let told = false;
  for (;;) {
    const holders = parseDeviceHolders(await shell.run(deviceHoldersCommand(device), { signal }));
    if (holders.length === 0) return;
    const waited = Date.now() - started;
    if (waited >= (o.timeoutMs ?? DEVICE_RELEASE_TIMEOUT_MS))
      throw new DeviceBusyError(shell.name, device, holders, waited);
    if (!told) {
      told = true;
      o.onHeld?.(holders);
    }
    const ours = o.killOurs ? holders.filter((h) => h.ours).map((h) => h.pid) : [];
    if (ours.length) await shell.run(killPidsCommand(ours), { signal });
    await sleep(POLL_MS, undefined, { signal });
  }
}

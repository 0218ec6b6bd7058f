import { uintText } from "./numbers.ts";
import type { DevicePath } from "./paths.ts";
import { shQuote } from "./quote.ts";

/**
 * Environment variable every command we run carries (set by `withProcessGroupReport`), so a process found holding
 * a device can be told apart from one an operator or a VM started.
 */
export const OWNER_ENV = "BLOCKFERRY_PGID";

/**
 * Processes holding `device` open, one line each: `PID OURS ARGS` (OURS 1 when it carries OWNER_ENV). A process
 * names the device in /proc/PID/fd by the node it opened: the LV's /dev/mapper node or the kernel's /dev/dm-N.
 * Prints nothing when the device does not exist.
 */
export function deviceHoldersCommand(device: DevicePath): string {
  return [
    `dev=${shQuote(device)}`,
    `[ -b "$dev" ] || exit 0`,
    `d=$(readlink -f -- "$dev") && n=/dev/dm-$(( 0x$(stat -L -c %T -- "$d") )) || exit 1`,
    `find /proc/[0-9]*/fd -maxdepth 1 \\( -lname "$d" -o -lname "$n" \\) 2>/dev/null | cut -d/ -f3 | sort -un |`,
    ` while read -r pid; do`,
    `  grep -qz '^${OWNER_ENV}=' "/proc/$pid/environ" 2>/dev/null && ours=1 || ours=0;`,
    `  args=$(tr '\\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue;`,
    `  printf '%s %s %s\\n' "$pid" "$ours" "$args";`,
    ` done`,
  ].join("\n");
}

export interface DeviceHolder {
  pid: number;
  /** Started by one of our commands (carries OWNER_ENV). */
  ours: boolean;
  args: string;
}

export function parseDeviceHolders(output: string): DeviceHolder[] {
  const holders: DeviceHolder[] = [];
  for (const line of output.split("\n")) {
    const m = /^(\d+) ([01]) ?(.*)$/.exec(line);
    if (m) holders.push({ pid: Number(m[1]), ours: m[2] === "1", args: (m[3] ?? "").trim() });
  }
  return holders;
}

/** SIGKILL to the given processes (ours, found holding a device after their group was already told to stop). */
export function killPidsCommand(pids: readonly number[]): string {
  const ids = pids.map((p) => uintText("process id", p, { min: 2n, max: 4194304n }));
  return `kill -s KILL ${ids.map((id) => shQuote(id)).join(" ")} 2>/dev/null || true`;
}

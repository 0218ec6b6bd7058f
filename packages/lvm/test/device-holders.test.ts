import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  deviceHoldersCommand,
  killPidsCommand,
  OWNER_ENV,
  parseDeviceHolders,
  validateDevicePath,
  withProcessGroupReport,
} from "../src/index.ts";

const LOOP = "/dev/loop0";
const run = (cmd: string) => spawnSync("/bin/sh", ["-c", cmd]).stdout.toString();

describe("device holders", () => {
  // A loop device node opens even when nothing is attached: a real block device to hold, no root-only setup.
  it.skipIf(!existsSync(LOOP))("finds who holds a block device open and which of them are ours", async () => {
    const hold = (env: NodeJS.ProcessEnv) =>
      spawn("/bin/sh", ["-c", `exec 7<${LOOP}; exec sleep 30`], { env, stdio: "ignore" });
    const { [OWNER_ENV]: _, ...foreignEnv } = process.env;
    const ours = hold({ ...process.env, [OWNER_ENV]: "1234" });
    const foreign = hold(foreignEnv);
    try {
      const cmd = deviceHoldersCommand(validateDevicePath(LOOP));
      let holders = parseDeviceHolders(run(cmd));
      for (let i = 0; i < 100 && holders.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 20)); // the shells open the device after they start
        holders = parseDeviceHolders(run(cmd));
      }
      expect(holders).toContainEqual({ pid: ours.pid, ours: true, args: "sleep 30" });
      expect(holders).toContainEqual({ pid: foreign.pid, ours: false, args: "sleep 30" });
      run(killPidsCommand([ours.pid as number]));
      await new Promise((r) => ours.once("exit", r));
      expect(parseDeviceHolders(run(cmd)).map((h) => h.pid)).not.toContain(ours.pid);
    } finally {
      ours.kill("SIGKILL");
      foreign.kill("SIGKILL");
    }
  });

  it("prints nothing for a device that does not exist", () => {
    expect(run(deviceHoldersCommand(validateDevicePath("/dev/vg0/no-such-lv")))).toBe("");
  });

  it("every wrapped command carries the owner variable", () => {
    const r = spawnSync("/bin/sh", ["-c", withProcessGroupReport(`printf %s "$${OWNER_ENV}"`)]);
    expect(r.stdout.toString()).toMatch(/^\d+$/);
  });

  it("refuses process ids that are not plain numbers", () => {
    expect(() => killPidsCommand([1])).toThrow();
    expect(killPidsCommand([42, 43])).toBe(`kill -s KILL '42' '43' 2>/dev/null || true`);
  });
});

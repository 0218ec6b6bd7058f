// A directory of stand-in tools (lvcreate, dmsetup, dd, ...) that record their argv, NUL-separated, so a
// generated command can be run by the real /bin/sh and its argument vector checked exactly.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const STUBBED = [
  "lvs",
  "vgs",
  "pvs",
  "lvcreate",
  "lvremove",
  "lvextend",
  "lvchange",
  "dmsetup",
  "thin_delta",
  "blockdev",
  "dd",
  "virsh",
  "sha256sum",
  "b2sum",
] as const;

export type StubShell = {
  dir: string;
  /** Run `command` with /bin/sh -c; returns stdout and every stub invocation's argv (tool name first). */
  run(command: string): { code: number | null; stdout: Buffer; stderr: string; calls: string[][] };
  cleanup(): void;
};

export function makeStubShell(): StubShell {
  const dir = mkdtempSync(join(tmpdir(), "bf-stub-"));
  const bin = join(dir, "bin");
  spawnSync("mkdir", [bin]);
  const log = join(dir, "argv.log");
  for (const tool of STUBBED) {
    const p = join(bin, tool);
    // One record per call: the argument count, the tool name, then each argument, all NUL-terminated.
    writeFileSync(p, `#!/bin/sh\nprintf '%s\\0' "$#" "${tool}" "$@" >> "$BF_ARGV_LOG"\n`);
    chmodSync(p, 0o755);
  }
  return {
    dir,
    run(command) {
      rmSync(log, { force: true });
      const r = spawnSync("/bin/sh", ["-c", command], {
        env: { PATH: `${bin}:/usr/bin:/bin`, BF_ARGV_LOG: log },
        cwd: dir,
        timeout: 10_000,
      });
      const raw = existsSync(log) ? readFileSync(log, "utf8") : "";
      const fields = raw.split("\0");
      const calls: string[][] = [];
      for (let i = 0; i < fields.length - 1; ) {
        const n = Number(fields[i]);
        calls.push(fields.slice(i + 1, i + 2 + n));
        i += n + 2;
      }
      return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString(), calls };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

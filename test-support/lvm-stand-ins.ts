// Stand-in `lvs`, `lvremove` and `lvchange` that keep state between commands, for tests that run the server's real
// commands through a real sshd and `sh -c` on a machine without LVM: the LVs live in a JSON file of report rows
// (test-support/lvm-report.ts), `lvs` prints them as LVM 2.03 does, `lvremove` deletes one, `lvchange` edits tags.
// Every call's argv is appended to calls.log, so a test sees exactly what reached the "host".
import { chmodSync, existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type LvReportRow, lvReportRow } from "./lvm-report.ts";

const STATE = "lvs-state.json";
const CALLS = "calls.log";
const FAILS = "lvremove-fails.json";

// One node script for all three tools; each tool's wrapper passes its own name first.
const SCRIPT = `
const fs = require("node:fs");
const path = require("node:path");
const dir = ${JSON.stringify("__DIR__")};
const tool = process.argv[2];
const args = process.argv.slice(3);
fs.appendFileSync(path.join(dir, ${JSON.stringify(CALLS)}), JSON.stringify([tool, ...args]) + "\\n");
const statePath = path.join(dir, ${JSON.stringify(STATE)});
const rows = JSON.parse(fs.readFileSync(statePath, "utf8"));
const last = args[args.length - 1] ?? "";
const find = (p) => rows.findIndex((r) => r.vg_name + "/" + r.lv_name === p);
const fail = (code, message) => { process.stderr.write(message + "\\n"); process.exit(code); };
if (tool === "lvs") {
  const scope = args[args.indexOf("-o") + 2] ?? "";
  const picked = rows.filter((r) =>
    scope === "" ? true : scope.startsWith("@") ? r.lv_tags.split(",").includes(scope.slice(1))
      : scope.includes("/") ? r.vg_name + "/" + r.lv_name === scope : r.vg_name === scope);
  process.stdout.write(JSON.stringify({ report: [{ lv: picked }] }));
} else if (tool === "lvremove") {
  const i = find(last);
  if (i < 0) fail(5, '  Failed to find logical volume "' + last + '"');
  if (rows[i].lv_attr[5] === "o") fail(5, "  Logical volume " + last + " in use.");
  const failsPath = path.join(dir, ${JSON.stringify(FAILS)});
  const fails = fs.existsSync(failsPath) ? JSON.parse(fs.readFileSync(failsPath, "utf8")) : [];
  if (fails.includes(last)) {
    fs.writeFileSync(failsPath, JSON.stringify(fails.filter((f) => f !== last)));
    fail(5, "  Logical volume " + last + " in use.");
  }
  rows.splice(i, 1);
  fs.writeFileSync(statePath, JSON.stringify(rows));
  process.stdout.write('  Logical volume "' + last.split("/")[1] + '" successfully removed.\\n');
} else if (tool === "lvchange") {
  const i = find(last);
  if (i < 0) fail(5, '  Failed to find logical volume "' + last + '"');
  let tags = rows[i].lv_tags ? rows[i].lv_tags.split(",") : [];
  for (let k = 0; k < args.length - 1; k++) {
    if (args[k] === "--addtag" && !tags.includes(args[k + 1])) tags.push(args[k + 1]);
    if (args[k] === "--deltag") tags = tags.filter((t) => t !== args[k + 1]);
  }
  rows[i].lv_tags = tags.join(",");
  fs.writeFileSync(statePath, JSON.stringify(rows));
}
`;

export interface LvmStandIns {
  /** Replaces every LV the stand-ins know (`o` as for lvReportRow), and forgets removals set to fail. */
  setLvs(lvs: Array<Partial<LvReportRow>>): void;
  lvs(): LvReportRow[];
  /**
   * The next `lvremove` of `vgLv` fails as LVM does for an LV in use (once): something opened it after the
   * caller's checks, the race no check can close.
   */
  failNextRemoval(vgLv: string): void;
  /** argv of every stand-in call so far, tool first. */
  calls(): string[][];
}

/** Writes the stand-ins into `dir` (meant to be first on the sshd's PATH), with `sh` and `cat` beside them. */
export function writeLvmStandIns(dir: string): LvmStandIns {
  const script = join(dir, "lvm-stand-in.cjs");
  writeFileSync(script, `#!${process.execPath}\n${SCRIPT.replace('"__DIR__"', JSON.stringify(dir))}`);
  chmodSync(script, 0o755);
  for (const tool of ["lvs", "lvremove", "lvchange"]) {
    writeFileSync(join(dir, tool), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} '${script}' ${tool} "$@"\n`);
    chmodSync(join(dir, tool), 0o755);
  }
  for (const real of ["/bin/sh", "/bin/cat", "/usr/bin/printf"])
    if (!existsSync(join(dir, real.split("/").pop() as string)))
      symlinkSync(real, join(dir, real.split("/").pop() as string));
  const state = join(dir, STATE);
  writeFileSync(state, "[]");
  writeFileSync(join(dir, CALLS), "");
  return {
    setLvs: (lvs) => {
      writeFileSync(state, JSON.stringify(lvs.map((o) => lvReportRow(o))));
      writeFileSync(join(dir, FAILS), "[]");
    },
    lvs: () => JSON.parse(readFileSync(state, "utf8")) as LvReportRow[],
    failNextRemoval: (vgLv) => {
      const path = join(dir, FAILS);
      const fails = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as string[]) : [];
      writeFileSync(path, JSON.stringify([...fails, vgLv]));
    },
    calls: () =>
      readFileSync(join(dir, CALLS), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]),
  };
}

// Time from `blockferry serve` (the bundled build `pnpm start` runs) to a listening server, against a bare
// Node HTTP server as the floor, side by side; also the unbundled tsx path. Medians of several runs.
// The target: under 1 s.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const tsx = join(root, "node_modules/.bin/tsx");
execFileSync("pnpm", ["--filter", "@blockferry/cli", "build"], { cwd: root, stdio: "ignore" });
const RUNS = Number(process.env.BF_BENCH_RUNS ?? 7);

/** Spawns a command and resolves with the ms until its stdout prints `marker`. */
function timeUntil(cmd: string, args: string[], marker: RegExp): Promise<number> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (marker.test(out)) {
        const ms = performance.now() - t0;
        child.kill("SIGTERM");
        child.once("exit", () => ok(ms));
      }
    });
    child.once("exit", (code) => {
      if (!marker.test(out)) fail(new Error(`${cmd} exited ${code} before listening: ${out}`));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const dir = mkdtempSync(join(tmpdir(), "bf-bench-startup-"));
const baselineScript = join(dir, "bare.cjs");
writeFileSync(
  baselineScript,
  `const { createServer } = require("node:http");\nconst s = createServer((_q, r) => r.end("ok"));\ns.listen(0, "127.0.0.1", () => console.log("listening"));\n`,
);
const ours: number[] = [];
const base: number[] = [];
const dev: number[] = [];
try {
  for (let i = 0; i < RUNS; i++) {
    const args = ["serve", "--port", "0", "--data-dir", join(dir, `d${i}`), "--log-level", "warn"];
    ours.push(
      await timeUntil(process.execPath, [join(root, "apps/cli/dist/main.js"), ...args], /Blockferry dashboard: http/),
    );
    base.push(await timeUntil(process.execPath, [baselineScript], /listening/));
    dev.push(await timeUntil(tsx, [join(root, "apps/cli/src/main.ts"), ...args], /Blockferry dashboard: http/));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const o = median(ours) / 1000;
const b = median(base) / 1000;
console.log(
  JSON.stringify({
    name: "serve-to-listening (new database: migrations run)",
    ours_s: Number(o.toFixed(3)),
    baseline_s: Number(b.toFixed(3)),
    ratio: Number((o / b).toFixed(2)),
    runs: RUNS,
    unbundled_tsx_s: Number((median(dev) / 1000).toFixed(3)),
    target_s: 1,
  }),
);

// `pnpm bench [NAME]`: runs every bench/*.bench.ts (or those whose file name contains NAME) one after
// another, each in its own Node process with --expose-gc, and forwards their JSON result lines.
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";

const benchDir = import.meta.dirname;

async function runOne(file: string): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", "--expose-gc", join(benchDir, file)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    try {
      JSON.parse(line);
      process.stdout.write(`${line}\n`);
    } catch {
      process.stderr.write(`bench ${file}: not a JSON line: ${line}\n`);
    }
  }
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.on("close", (code) => resolve(code ?? 1));
  });
}

async function main(argv: string[]): Promise<number> {
  const filter = argv[0];
  const files = (await readdir(benchDir))
    .filter((f) => f.endsWith(".bench.ts") && (!filter || f.includes(filter)))
    .sort();
  if (files.length === 0) {
    process.stderr.write(`no benchmarks${filter ? ` matching ${filter}` : ""} in ${benchDir}\n`);
    return 1;
  }
  let failed = 0;
  for (const file of files) {
    const code = await runOne(file);
    if (code !== 0) {
      process.stderr.write(`bench ${file} exited ${code}\n`);
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);

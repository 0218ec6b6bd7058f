// Runs `blockferry` commands: in this process through a command's run() with its stdin, output and environment
// given (fast), or as the real CLI process (apps/cli/src/main.ts under tsx) where the process itself matters.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import type { Io } from "../src/lib/io.ts";

export const ROOT = resolve(import.meta.dirname, "../../..");
const MAIN = resolve(ROOT, "apps/cli/src/main.ts");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any BLOCKFERRY_* setting of the machine running the tests, plus `env`. */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("BLOCKFERRY_")));
  return { ...base, ...env };
}

type Command = (argv: string[], io: Io) => Promise<number>;

/** A command's run() with `stdin` as its standard input, its output captured. */
export async function runCommand(
  command: Command,
  args: string[],
  o: { stdin?: string; env: Record<string, string> },
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await command(args, {
    stdin: Readable.from([Buffer.from(o.stdin ?? "")]),
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: cleanEnv(o.env),
  });
  return { code, stdout, stderr };
}

/** The real CLI process. */
export function cliProcess(args: string[], o: { stdin?: string; env: Record<string, string> }): Promise<CliResult> {
  return new Promise((done, fail) => {
    const p = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: ROOT, env: cleanEnv(o.env) });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => {
      stdout += d;
    });
    p.stderr.on("data", (d) => {
      stderr += d;
    });
    p.on("error", fail);
    p.on("close", (code) => done({ code, stdout, stderr }));
    p.stdin.end(o.stdin ?? "");
  });
}

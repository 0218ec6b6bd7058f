import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** Where `blockferry login` keeps what it got: `$XDG_CONFIG_HOME/blockferry` or `~/.config/blockferry`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME?.startsWith("/") ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "blockferry");
}

/** The API token alone, one line: `BLOCKFERRY_TOKEN=$(cat ...)` works with it. */
export const tokenFile = (env: NodeJS.ProcessEnv = process.env): string => join(configDir(env), "token");
/** Which token that is and where it works (no secret in it): what `logout` needs to revoke it. */
export const loginFile = (env: NodeJS.ProcessEnv = process.env): string => join(configDir(env), "login.json");

export interface LoginRecord {
  server: string;
  username: string;
  tokenId: number;
  tokenName: string;
}

export class CredentialsError extends Error {}

/** Where the token came from, for messages (the token itself is never printed). */
export type TokenSource = "--token" | "BLOCKFERRY_TOKEN" | "token file";

/**
 * The API token: `--token`, else `BLOCKFERRY_TOKEN`, else the token file `blockferry login` wrote. A token file
 * anyone but its owner can read is refused, like ssh refuses such a private key.
 */
export function resolveToken(
  flags: ReadonlyMap<string, string>,
  env: NodeJS.ProcessEnv = process.env,
): { token: string; source: TokenSource } | undefined {
  const flag = flags.get("token");
  if (flag !== undefined) {
    if (!flag.trim()) throw new CredentialsError("--token is empty");
    return { token: flag.trim(), source: "--token" };
  }
  if (env.BLOCKFERRY_TOKEN?.trim()) return { token: env.BLOCKFERRY_TOKEN.trim(), source: "BLOCKFERRY_TOKEN" };
  const token = readTokenFile(env);
  return token === undefined ? undefined : { token, source: "token file" };
}

/**
 * The token file's token, or undefined when there is no file. Refused when others can read it, unless `loose`
 * (logout: a token that may have leaked is all the more one to revoke).
 */
export function readTokenFile(env: NodeJS.ProcessEnv = process.env, o: { loose?: boolean } = {}): string | undefined {
  const file = tokenFile(env);
  let mode: number;
  try {
    const st = lstatSync(file);
    if (!st.isFile()) throw new CredentialsError(`${file} is not a regular file`);
    mode = st.mode & 0o777;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (mode & 0o077 && !o.loose)
    throw new CredentialsError(
      `${file} can be read by others (mode ${mode.toString(8).padStart(4, "0")}): run \`chmod 600 ${file}\`, or \`blockferry login\` again`,
    );
  const token = readFileSync(file, "utf8").split("\n")[0]?.trim();
  if (!token) throw new CredentialsError(`${file} is empty: run \`blockferry login\``);
  return token;
}

/** Writes `content` to `file` mode 0600 (its directory 0700) through a temporary file and a rename. */
export function writePrivateFile(file: string, content: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = join(dir, `.${randomBytes(6).toString("hex")}.tmp`);
  // O_EXCL: never write through a file (or symlink) someone placed there.
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

export function saveLogin(token: string, record: LoginRecord, env: NodeJS.ProcessEnv = process.env): string {
  writePrivateFile(loginFile(env), `${JSON.stringify(record, null, 2)}\n`);
  const file = tokenFile(env);
  writePrivateFile(file, `${token}\n`);
  return file;
}

export function readLogin(env: NodeJS.ProcessEnv = process.env): LoginRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(loginFile(env), "utf8")) as Partial<LoginRecord>;
    if (typeof r.server === "string" && typeof r.tokenId === "number")
      return { server: r.server, tokenId: r.tokenId, username: String(r.username), tokenName: String(r.tokenName) };
  } catch {
    // absent or unreadable: nothing to revoke
  }
  return undefined;
}

/** Removes the token file and its record; true when there was a token file. */
export function forgetLogin(env: NodeJS.ProcessEnv = process.env): boolean {
  const had = lstatOk(tokenFile(env));
  rmSync(tokenFile(env), { force: true });
  rmSync(loginFile(env), { force: true });
  return had;
}

function lstatOk(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The first line of stdin, its line ending stripped: passwords never go through argv (ps, shell history). */
export async function readFirstLine(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  let buf = "";
  for await (const chunk of stdin) {
    buf += typeof chunk === "string" ? chunk : (chunk as Buffer).toString("utf8");
    if (buf.includes("\n")) break;
  }
  return (buf.split("\n")[0] ?? "").replace(/\r$/, "");
}

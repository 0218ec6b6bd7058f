import { ApiError, createApiClient, type HttpMethod } from "@blockferry/client";
import { CredentialsError, resolveToken, type TokenSource } from "./credentials.ts";

/** Where the CLI finds the server: --server URL, BLOCKFERRY_URL, or the default local dashboard. */
export function serverUrl(flags: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv = process.env): string {
  return (flags.get("server") ?? env.BLOCKFERRY_URL ?? "http://127.0.0.1:7878").replace(/\/$/, "");
}

export class CliApiError extends Error {}

/** A server and the API token the commands send it (from --token, BLOCKFERRY_TOKEN or the token file). */
export interface Connection {
  base: string;
  token?: string;
  tokenSource?: TokenSource;
}

/** The connection the flags and environment name; a token file others can read is refused here. */
export function connection(flags: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv = process.env): Connection {
  try {
    const t = resolveToken(flags, env);
    return { base: serverUrl(flags, env), ...(t && { token: t.token, tokenSource: t.source }) };
  } catch (err) {
    if (err instanceof CredentialsError) throw new CliApiError(err.message, { cause: err });
    throw err;
  }
}

/** `Authorization` for the event stream's websocket (browsers cannot set it; `ws` can). */
export const authHeaders = (c: Connection): Record<string, string> =>
  c.token ? { authorization: `Bearer ${c.token}` } : {};

/** A 401/403 as something the operator can act on; the token itself never appears. */
function accessMessage(c: Pick<Connection, "token" | "tokenSource">, err: ApiError): string | undefined {
  if (err.status === 401)
    return c.token
      ? `the server refused the API token from ${c.tokenSource} (${err.message}): run \`blockferry login\` or pass --token`
      : "not logged in: run `blockferry login` or pass --token (or set BLOCKFERRY_TOKEN)";
  if (err.status === 403 && err.code === "FORBIDDEN") {
    const m = /needs the (\w+) role; you are (\w+)/.exec(err.message);
    return m ? `your role ${m[2]} cannot do this (it needs ${m[1]})` : `not allowed: ${err.message}`;
  }
  return undefined;
}

/** A request through the shared client; its failures become CliApiError lines an operator can act on. */
export async function api<T>(c: Connection, method: HttpMethod, path: string, body?: unknown): Promise<T> {
  try {
    return await createApiClient({ baseUrl: c.base, token: c.token }).request<T>(method, path, { body });
  } catch (err) {
    throw cliError(c, err);
  }
}

/** Any client failure as a CliApiError (other errors pass through). */
export function cliError(c: Pick<Connection, "token" | "tokenSource">, err: unknown): unknown {
  if (!(err instanceof ApiError)) return err;
  if (err.code === "NETWORK")
    return new CliApiError(`${err.message}; is \`blockferry serve\` running?`, { cause: err });
  const access = accessMessage(c, err);
  if (access) return new CliApiError(access, { cause: err });
  return new CliApiError(err.requestId ? `${err.message} (${err.code}, request ${err.requestId})` : err.message, {
    cause: err,
  });
}

/** `--name value` / `--name=value` / `--flag` into a map; the rest stay positional. */
export function parseArgs(argv: readonly string[], booleans: readonly string[] = []) {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(a);
    if (!m?.[1]) {
      positional.push(a);
      continue;
    }
    if (m[2] !== undefined) flags.set(m[1], m[2]);
    else if (booleans.includes(m[1])) flags.set(m[1], "true");
    else {
      const v = argv[++i];
      if (v === undefined) throw new CliApiError(`--${m[1]} needs a value`);
      flags.set(m[1], v);
    }
  }
  return { flags, positional };
}

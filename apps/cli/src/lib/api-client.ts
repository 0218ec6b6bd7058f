import { ApiError, createApiClient, type HttpMethod } from "@blockferry/client";

/** Where the CLI finds the server: --server URL, BLOCKFERRY_URL, or the default local dashboard. */
export function serverUrl(flags: Map<string, string>): string {
  return (flags.get("server") ?? process.env.BLOCKFERRY_URL ?? "http://127.0.0.1:7878").replace(/\/$/, "");
}

export class CliApiError extends Error {}

/** A request through the shared client; its failures become CliApiError lines an operator can act on. */
export async function api<T>(base: string, method: HttpMethod, path: string, body?: unknown): Promise<T> {
  try {
    return await createApiClient({ baseUrl: base }).request<T>(method, path, { body });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.code === "NETWORK")
      throw new CliApiError(`${err.message}; is \`blockferry serve\` running?`, { cause: err });
    throw new CliApiError(err.requestId ? `${err.message} (${err.code}, request ${err.requestId})` : err.message, {
      cause: err,
    });
  }
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

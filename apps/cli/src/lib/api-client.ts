import type { ErrorBody } from "@blockferry/contracts";

/** Where the CLI finds the server: --server URL, BLOCKFERRY_URL, or the default local dashboard. */
export function serverUrl(flags: Map<string, string>): string {
  return (flags.get("server") ?? process.env.BLOCKFERRY_URL ?? "http://127.0.0.1:7878").replace(/\/$/, "");
}

export class CliApiError extends Error {}

export async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliApiError(
      `cannot reach the Blockferry server at ${base} (${(err as Error).message}); is \`blockferry serve\` running?`,
    );
  }
  if (res.status === 204) return undefined as T;
  const json = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) {
    const e = (json as ErrorBody | null)?.error;
    throw new CliApiError(e ? `${e.message} (${e.code}, request ${e.requestId})` : `HTTP ${res.status}`);
  }
  return json as T;
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

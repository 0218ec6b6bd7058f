import { hostname, userInfo } from "node:os";
import { ApiError, createApiClient } from "@blockferry/client";
import { type CreatedApiToken, SESSION_COOKIE, type Session } from "@blockferry/contracts";
import { api, CliApiError, cliError, parseArgs, serverUrl } from "../lib/api-client.ts";
import {
  CredentialsError,
  forgetLogin,
  readFirstLine,
  readLogin,
  readTokenFile,
  saveLogin,
  tokenFile,
} from "../lib/credentials.ts";
import { type Io, processIo } from "../lib/io.ts";

const LOGIN_USAGE = `usage: blockferry login [--server URL] [--username NAME] --password-stdin
Logs in, creates an API token for this machine (admins only), logs the session out again and keeps the token in
$XDG_CONFIG_HOME/blockferry/token (default ~/.config/blockferry/token, mode 0600).
The password is the first line of stdin. --username defaults to your OS user name.`;

/** A token name the server accepts (letters, digits, space . _ -), naming this machine. */
export function tokenNameFor(host: string): string {
  const clean = host.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return `cli on ${clean || "unknown host"}`.slice(0, 64);
}

/**
 * A client that keeps the session cookie between its own requests (Node's fetch keeps none) and echoes the
 * session's CSRF token: the login session lives only inside this command.
 */
function sessionClient(base: string) {
  let cookie: string | undefined;
  let csrf: string | undefined;
  const client = createApiClient({
    baseUrl: base,
    csrfToken: () => csrf,
    async fetch(input, init) {
      const headers = new Headers(init?.headers);
      if (cookie) headers.set("cookie", cookie);
      const res = await fetch(input, { ...init, headers });
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(";");
        if (pair?.startsWith(`${SESSION_COOKIE}=`)) cookie = pair;
      }
      return res;
    },
  });
  return {
    async login(username: string, password: string): Promise<Session> {
      const s = await client.request<Session>("POST", "/api/session", { body: { username, password } });
      csrf = s.csrfToken;
      return s;
    },
    request: client.request,
    /** Best effort: the session would expire by itself anyway. */
    async logout(): Promise<void> {
      if (cookie) await client.request("DELETE", "/api/session").catch(() => undefined);
      cookie = undefined;
    },
  };
}

function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const { flags, positional } = parseArgs(argv, ["password-stdin"]);
  if (positional.length || !flags.has("password-stdin")) {
    io.stderr.write(`${LOGIN_USAGE}\n`);
    return 2;
  }
  const base = serverUrl(flags, io.env);
  const username = flags.get("username") ?? osUser();
  if (!username) {
    io.stderr.write("blockferry login: give --username NAME\n");
    return 2;
  }
  const password = await readFirstLine(io.stdin);
  if (!password) {
    io.stderr.write("blockferry login: no password on stdin\n");
    return 2;
  }
  const session = sessionClient(base);
  try {
    const s = await session.login(username, password).catch((err: unknown) => {
      // Here a 401 is a wrong name or password, not a missing token.
      throw err instanceof ApiError && err.status === 401
        ? new CliApiError(`login failed: ${err.message}`)
        : cliError({}, err);
    });
    if (s.user.role !== "admin")
      throw new CliApiError(
        `logged in as ${s.user.username}, but only admins can create API tokens and you are ${s.user.role}: ask an admin for a token and pass it with --token or BLOCKFERRY_TOKEN`,
      );
    const name = tokenNameFor(hostname());
    const created = await session
      .request<CreatedApiToken>("POST", "/api/tokens", { body: { name, role: s.user.role } })
      .catch((err: unknown) => {
        throw cliError({}, err);
      });
    const previous = readLogin(io.env);
    const file = saveLogin(
      created.token,
      {
        server: base,
        username: s.user.username,
        tokenId: created.apiToken.id,
        tokenName: name,
      },
      io.env,
    );
    io.stdout.write(
      `logged in to ${base} as ${s.user.username} (${s.user.role}); API token "${name}" saved in ${file}\n`,
    );
    // The token this one replaces would otherwise stay valid, unused, until an admin noticed it.
    if (previous?.server === base && previous.tokenId !== created.apiToken.id)
      await session.request("DELETE", `/api/tokens/${previous.tokenId}`).then(
        () => io.stdout.write(`revoked the API token of the previous login ("${previous.tokenName}")\n`),
        () => undefined,
      );
    return 0;
  } catch (err) {
    if (err instanceof CliApiError) {
      io.stderr.write(`blockferry login: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await session.logout();
  }
}

/** `blockferry logout`: revokes the saved token on its server when it can (admins only), then deletes it. */
export async function logout(argv: string[], io: Io = processIo()): Promise<number> {
  const { flags, positional } = parseArgs(argv);
  if (positional.length || [...flags.keys()].some((f) => f !== "server")) {
    io.stderr.write("usage: blockferry logout [--server URL]\n");
    return 2;
  }
  const file = tokenFile(io.env);
  const record = readLogin(io.env);
  let token: string | undefined;
  try {
    // Only the token file's own token (--token / BLOCKFERRY_TOKEN are not this command's to revoke), even from a
    // file others could read: a token that may have leaked is all the more one to revoke.
    token = readTokenFile(io.env, { loose: true });
  } catch (err) {
    if (!(err instanceof CredentialsError)) throw err;
  }
  if (token && record) {
    const conn = {
      base: flags.get("server")?.replace(/\/$/, "") ?? record.server,
      token,
      tokenSource: "token file" as const,
    };
    try {
      await api(conn, "DELETE", `/api/tokens/${record.tokenId}`);
      io.stdout.write(`revoked API token "${record.tokenName}" on ${conn.base}\n`);
    } catch (err) {
      if (!(err instanceof CliApiError)) throw err;
      io.stderr.write(
        `blockferry logout: could not revoke the token on ${conn.base} (${err.message}); an admin can revoke "${record.tokenName}" there\n`,
      );
    }
  }
  if (!forgetLogin(io.env)) {
    io.stdout.write(`not logged in (no ${file})\n`);
    return 0;
  }
  io.stdout.write(`removed ${file}\n`);
  return 0;
}

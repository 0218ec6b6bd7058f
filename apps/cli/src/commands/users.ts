import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { Password, ROLES, type Role, Username } from "@blockferry/contracts";
import {
  type Actor,
  ConfigError,
  createAuditRepo,
  createAuth,
  DomainError,
  loadConfig,
  openDb,
} from "@blockferry/server";
import { CliApiError, parseArgs } from "../lib/api-client.ts";
import { readFirstLine } from "../lib/credentials.ts";
import { type Io, processIo } from "../lib/io.ts";

const USAGE = `usage:
  blockferry users list
  blockferry users add NAME --role viewer|operator|admin --password-stdin
  blockferry users passwd NAME --password-stdin
  blockferry users remove NAME
Works on the database directly (no server needed; a running one may share it).
The password is the first line of stdin, e.g. \`read -rs PW && printf '%s\\n' "$PW" | blockferry users add ...\`.
options: --data-dir DIR (default $BLOCKFERRY_DATA_DIR or .data, as for \`blockferry serve\`)`;

class UsageError extends Error {}

/** The contracts' rules, read off the schemas the server validates with (TypeBox keeps them as plain keywords). */
const PASSWORD = Password as unknown as { minLength: number; maxLength: number };
const USERNAME = Username as unknown as { maxLength: number; pattern: string };

/** Offline changes are audited as the OS user who ran them. */
function cliActor(): Actor {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = `uid ${process.getuid?.() ?? "?"}`;
  }
  return { name: `cli:${name}`, address: null };
}

async function readPassword(flags: ReadonlyMap<string, string>, stdin: NodeJS.ReadableStream): Promise<string> {
  if (!flags.has("password-stdin"))
    throw new UsageError("give the password on stdin with --password-stdin (never as an argument)");
  const password = await readFirstLine(stdin);
  if (password.length < PASSWORD.minLength)
    throw new UsageError(`the password must be at least ${PASSWORD.minLength} characters (a passphrase is best)`);
  if (password.length > PASSWORD.maxLength)
    throw new UsageError(`the password must be at most ${PASSWORD.maxLength} characters`);
  return password;
}

function checkUsername(name: string): string {
  if (name.length > USERNAME.maxLength || !new RegExp(USERNAME.pattern).test(name))
    throw new UsageError(
      `"${name}" is not a user name: letters, digits and . _ @ - (starting with a letter or digit), at most ${USERNAME.maxLength}`,
    );
  return name;
}

function parseRole(value: string | undefined): Role {
  const role = ROLES.find((r) => r === value);
  if (!role) throw new UsageError(`--role must be one of ${ROLES.join(", ")}`);
  return role;
}

export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const { flags, positional } = parseArgs(argv, ["password-stdin"]);
  const [sub, name, ...extra] = positional;
  if (!sub || !["list", "add", "passwd", "remove"].includes(sub) || (sub !== "list" && !name) || extra.length) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const unknown = [...flags.keys()].filter((f) => !["data-dir", "role", "password-stdin"].includes(f));
  if (unknown.length) {
    io.stderr.write(`blockferry users: unknown option --${unknown[0]}\n${USAGE}\n`);
    return 2;
  }

  let db: ReturnType<typeof openDb> | undefined;
  try {
    const dataDir = flags.get("data-dir");
    const config = loadConfig(dataDir === undefined ? [] : ["--data-dir", dataDir], io.env);
    // Input first: nothing is opened or created for a command that cannot run.
    const username = name === undefined ? undefined : checkUsername(name);
    const role = sub === "add" ? parseRole(flags.get("role")) : undefined;
    const password = sub === "add" || sub === "passwd" ? await readPassword(flags, io.stdin) : undefined;
    // Only `add` may create the database (the first admin before the first start); the rest need one.
    if (sub !== "add" && !existsSync(config.dbFile))
      throw new CliApiError(`no database at ${config.dbFile}: wrong --data-dir? (or add a user first)`);

    db = openDb(config.dbFile);
    const { accounts } = createAuth(db, createAuditRepo(db));
    const actor = cliActor();
    const existing = () => {
      const u = username === undefined ? undefined : accounts.byName(username);
      if (!u) throw new CliApiError(`no user named ${username}; see blockferry users list`);
      return u;
    };

    switch (sub) {
      case "list": {
        const users = accounts.list();
        if (!users.length) io.stdout.write("no users yet: blockferry users add NAME --role admin --password-stdin\n");
        for (const u of users) io.stdout.write(`${u.id}\t${u.username}\t${u.role}\t${u.createdAt}\n`);
        return 0;
      }
      case "add": {
        if (username === undefined || role === undefined || password === undefined) break;
        const u = await accounts.create({ username, role, password }, actor);
        io.stdout.write(`added user ${u.username} (${u.role})\n`);
        return 0;
      }
      case "passwd": {
        if (password === undefined) break;
        const u = await accounts.update(existing().id, { password }, actor);
        io.stdout.write(`password of ${u.username} changed; their sessions are logged out\n`);
        return 0;
      }
      case "remove": {
        const u = existing();
        accounts.remove(u.id, actor);
        io.stdout.write(`removed user ${u.username}; their sessions and API tokens no longer work\n`);
        return 0;
      }
    }
    return 2;
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.stderr.write(`blockferry users: ${err.message}\n`);
      return 2;
    }
    if (err instanceof CliApiError || err instanceof DomainError) {
      io.stderr.write(`blockferry users: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    db?.$client.close();
  }
}

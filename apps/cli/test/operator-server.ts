// The server the CLI's API commands talk to in their tests: a real one in this process, on a fresh data dir, with
// an operator account whose API token the command is given (as `blockferry login` would have stored it).
import { join } from "node:path";
import { loadConfig, type RunningServer, startServer } from "@blockferry/server";

/** The operator the token belongs to: commands that say who did something name this user. */
export const OPERATOR = "ops";

/** A real server with its database under `root/data`, and an operator API token for the command under test. */
export async function startServerWithOperator(root: string): Promise<{ server: RunningServer; token: string }> {
  const server = await startServer(
    loadConfig(["--port", "0", "--data-dir", join(root, "data")], { BLOCKFERRY_LOG_LEVEL: "silent" }),
  );
  const user = await server.runtime.auth.accounts.create({
    username: OPERATOR,
    password: "ops password 1",
    role: "operator",
  });
  const { token } = server.runtime.auth.tokens.create(
    { name: "cli-test", role: "operator" },
    { userId: user.id, username: user.username, role: user.role, via: "session" },
    { name: OPERATOR, address: null },
  );
  return { server, token };
}

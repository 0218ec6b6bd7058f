// `blockferry login`, the token it keeps and every way a command finds a token, against a real server in this
// process; XDG_CONFIG_HOME points at temp dirs, so no test touches the real ~/.config.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type RunningServer, startServer } from "@blockferry/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { run as hosts } from "../src/commands/hosts.ts";
import { run as login, logout } from "../src/commands/login.ts";
import { run as users } from "../src/commands/users.ts";
import { authHeaders, connection } from "../src/lib/api-client.ts";
import { runCommand } from "./run-cli.ts";

const ADMIN_PW = "admin password 1";
const VIEWER_PW = "viewer password 1";

describe("blockferry login and API tokens", () => {
  let root = "";
  let server: RunningServer;
  /** A config dir (XDG_CONFIG_HOME) for the logged-in admin, and one that holds nothing. */
  let adminCfg = "";
  let emptyCfg = "";
  const tokenPath = () => join(adminCfg, "blockferry/token");
  const env = (cfg: string, more: Record<string, string> = {}) => ({ XDG_CONFIG_HOME: cfg, ...more });
  const hostsList = (e: Record<string, string>, args: string[] = []) =>
    runCommand(hosts, ["list", "--server", server.url, ...args], { env: e });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "bf-cli-login-"));
    adminCfg = join(root, "admin-config");
    emptyCfg = join(root, "empty-config");
    const dataDir = join(root, "data");
    server = await startServer(loadConfig(["--port", "0", "--data-dir", dataDir], { BLOCKFERRY_LOG_LEVEL: "silent" }));
    // The admin comes from `blockferry users add` on the database the running server has open.
    const add = await runCommand(users, ["add", "root", "--role", "admin", "--password-stdin", "--data-dir", dataDir], {
      stdin: `${ADMIN_PW}\n`,
      env: {},
    });
    expect(add.code).toBe(0);
    await server.runtime.auth.accounts.create({ username: "vera", password: VIEWER_PW, role: "viewer" });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("without a token a command says how to log in", async () => {
    const r = await hostsList(env(emptyCfg));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "blockferry hosts: not logged in: run `blockferry login` or pass --token (or set BLOCKFERRY_TOKEN)\n",
    );
  });

  it("logs in, keeps an API token in a 0600 file in a 0700 directory, and ends the login session", async () => {
    const r = await runCommand(login, ["--server", server.url, "--username", "root", "--password-stdin"], {
      stdin: `${ADMIN_PW}\n`,
      env: env(adminCfg),
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`logged in to ${server.url} as root (admin)`);
    const token = readFileSync(tokenPath(), "utf8").trim();
    expect(token).toMatch(/^bft_/);
    expect(r.stdout).not.toContain(token);
    expect(statSync(tokenPath()).mode & 0o777).toBe(0o600);
    expect(statSync(join(adminCfg, "blockferry")).mode & 0o777).toBe(0o700);
    const [made] = server.runtime.auth.tokens.list();
    expect(made).toMatchObject({ role: "admin", createdBy: "root" });
    expect(made?.name).toMatch(/^cli on /);
    // The session the login opened is gone again.
    const audit = server.runtime.audit.page({ limit: 20 }).map((e) => e.action);
    expect(audit).toContain("logout");
  });

  it("logging in again replaces the token and revokes the previous one", async () => {
    const before = readFileSync(tokenPath(), "utf8").trim();
    const r = await runCommand(login, ["--server", server.url, "--username", "root", "--password-stdin"], {
      stdin: `${ADMIN_PW}\n`,
      env: env(adminCfg),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("revoked the API token of the previous login");
    expect(readFileSync(tokenPath(), "utf8").trim()).not.toBe(before);
    expect(server.runtime.auth.tokens.resolve(before)).toBeUndefined();
    expect(server.runtime.auth.tokens.list()).toHaveLength(1);
  });

  it("the event stream's socket is opened with the token", async () => {
    const conn = connection(new Map([["server", server.url]]), { XDG_CONFIG_HOME: adminCfg });
    const url = `${server.url.replace(/^http/, "ws")}/api/events/stream`;
    const opens = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, { headers });
        ws.on("open", () => {
          ws.close();
          resolve(101);
        });
        ws.on("unexpected-response", (_req, res) => {
          ws.terminate();
          resolve(res.statusCode ?? 0);
        });
        ws.on("error", () => resolve(-1));
      });
    expect(await opens(authHeaders(conn))).toBe(101);
    // Not tried here without the token: the server then answers 401, but keeps the refused upgrade's socket
    // open, and its close() waits for it (reported to the server's owner).
  });

  it("hosts list works with the token file, --token and BLOCKFERRY_TOKEN", async () => {
    const token = readFileSync(tokenPath(), "utf8").trim();
    for (const r of [
      await hostsList(env(adminCfg)),
      await hostsList(env(emptyCfg), ["--token", token]),
      await hostsList(env(emptyCfg, { BLOCKFERRY_TOKEN: token })),
    ]) {
      expect(r.stderr).toBe("");
      expect(r).toMatchObject({ code: 0, stdout: "no hosts yet: blockferry hosts add NAME ADDRESS --key-file PATH\n" });
    }
  });

  it("refuses a token file others can read", async () => {
    chmodSync(tokenPath(), 0o640);
    try {
      const r = await hostsList(env(adminCfg));
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("can be read by others (mode 0640)");
      expect(r.stderr).toContain("chmod 600");
    } finally {
      chmodSync(tokenPath(), 0o600);
    }
  });

  it("tells a viewer to ask an admin for a token, and keeps nothing", async () => {
    const cfg = join(root, "viewer-config");
    const r = await runCommand(login, ["--server", server.url, "--username", "vera", "--password-stdin"], {
      stdin: `${VIEWER_PW}\n`,
      env: env(cfg),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ask an admin for a token and pass it with --token or BLOCKFERRY_TOKEN");
    expect(() => statSync(join(cfg, "blockferry/token"))).toThrow();
    const wrong = await runCommand(login, ["--server", server.url, "--username", "vera", "--password-stdin"], {
      stdin: "not the password\n",
      env: env(cfg),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^blockferry login: login failed: /);
  });

  it("a token whose role is too low gets a message naming the role", async () => {
    const vera = server.runtime.auth.accounts.byName("vera");
    if (!vera) throw new Error("vera missing");
    const { token } = server.runtime.auth.tokens.create(
      { name: "vera", role: "viewer" },
      { userId: vera.id, username: "vera", role: "viewer", via: "session" },
      { name: "test" },
    );
    expect((await hostsList(env(emptyCfg, { BLOCKFERRY_TOKEN: token }))).code).toBe(0);
    const r = await runCommand(hosts, ["remove", "1", "--server", server.url], {
      env: env(emptyCfg, { BLOCKFERRY_TOKEN: token }),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("blockferry hosts: your role viewer cannot do this (it needs admin)\n");
  });

  it("logout revokes the token on the server and deletes the file; the revoked token is refused clearly", async () => {
    const token = readFileSync(tokenPath(), "utf8").trim();
    // Loose modes keep a token from being used, not from being revoked.
    chmodSync(tokenPath(), 0o644);
    const r = await runCommand(logout, [], { env: env(adminCfg) });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("revoked API token");
    expect(() => statSync(tokenPath())).toThrow();
    const refused = await hostsList(env(emptyCfg), ["--token", token]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the server refused the API token from --token");
    expect(refused.stderr).toContain("run `blockferry login` or pass --token");
    expect(refused.stderr).not.toContain(token);
    const again = await runCommand(logout, [], { env: env(adminCfg) });
    expect(again).toMatchObject({ code: 0, stdout: expect.stringContaining("not logged in") });
  });
});

// `blockferry users ...` against a real data dir: the CLI process opens the SQLite file itself, as an operator
// would with no server running (or one running beside it).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { createAuditRepo, createAuth, type Db, loadConfig, openDb } from "@blockferry/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../src/commands/users.ts";
import { cliProcess, runCommand } from "./run-cli.ts";

describe("blockferry users", () => {
  let dir = "";
  let env: Record<string, string> = {};
  const users = (args: string[], stdin?: string) => runCommand(run, args, { stdin, env });
  /** The same database through the server's own code, as the server process would see it. */
  const withDb = async <T>(f: (db: Db) => T | Promise<T>): Promise<T> => {
    const db = openDb(loadConfig(["--data-dir", dir]).dbFile);
    try {
      return await f(db);
    } finally {
      db.$client.close();
    }
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "bf-cli-users-"));
    env = { BLOCKFERRY_DATA_DIR: join(dir, "data") };
    dir = join(dir, "data");
  });
  afterAll(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

  it("refuses to list a data dir that has no database, and creates none", async () => {
    const r = await users(["list"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no database at .*blockferry\.db/);
  });

  it("adds the first admin from the first line of stdin and lists it", async () => {
    const add = await users(
      ["add", "alice", "--role", "admin", "--password-stdin"],
      "correct horse battery\nignored\n",
    );
    expect(add).toMatchObject({ code: 0, stderr: "" });
    expect(add.stdout).toBe("added user alice (admin)\n");
    const list = await users(["list"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^1\talice\tadmin\t\d{4}-\d\d-\d\dT/);
    const ok = await withDb((db) =>
      createAuth(db, createAuditRepo(db)).sessions.login("alice", "correct horse battery", { name: "test" }),
    );
    expect(ok.session.user.username).toBe("alice");
    // Offline changes are audited as the OS user.
    const audit = await withDb((db) => createAuditRepo(db).page({ limit: 10 }));
    expect(audit.find((e) => e.action === "user.create")?.actor).toBe(`cli:${userInfo().username}`);
  });

  it("refuses a taken name, a short password, a password not on stdin and an unknown role", async () => {
    const taken = await users(["add", "alice", "--role", "viewer", "--password-stdin"], "another long one\n");
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain("a user named alice exists already");
    const short = await users(["add", "bob", "--role", "viewer", "--password-stdin"], "123456789\n");
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("at least 10 characters");
    const noStdin = await users(["add", "bob", "--role", "viewer"]);
    expect(noStdin.code).toBe(2);
    expect(noStdin.stderr).toContain("--password-stdin");
    const role = await users(["add", "bob", "--role", "root", "--password-stdin"], "long enough password\n");
    expect(role.code).toBe(2);
    expect(role.stderr).toContain("--role must be one of viewer, operator, admin");
    expect((await users(["list"])).stdout).not.toContain("bob");
  });

  it("changes a password: the old one stops working, the new one works", async () => {
    expect((await users(["add", "bob", "--role", "operator", "--password-stdin"], "first password 1\n")).code).toBe(0);
    const r = await users(["passwd", "bob", "--password-stdin"], "second password 2\r\n");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    await withDb(async (db) => {
      const { sessions } = createAuth(db, createAuditRepo(db));
      await expect(sessions.login("bob", "first password 1", { name: "test" })).rejects.toThrow();
      expect((await sessions.login("bob", "second password 2", { name: "test" })).session.user.role).toBe("operator");
    });
    const unknown = await users(["passwd", "carol", "--password-stdin"], "whatever password\n");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no user named carol");
  });

  it("removes a user, whose API tokens stop working at once; never the last admin", async () => {
    const token = await withDb((db) => {
      const auth = createAuth(db, createAuditRepo(db));
      const bob = auth.accounts.byName("bob");
      if (!bob) throw new Error("bob missing");
      const principal = { userId: bob.id, username: "bob", role: bob.role, via: "session" as const };
      return auth.tokens.create({ name: "bob's script", role: "viewer" }, principal, { name: "test" }).token;
    });
    const last = await users(["remove", "alice"]);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain("cannot remove the last admin");

    const r = await users(["remove", "bob"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(await withDb((db) => createAuth(db, createAuditRepo(db)).tokens.resolve(token))).toBeUndefined();
    const again = await users(["remove", "bob"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("no user named bob");
    expect((await users(["list"])).stdout.split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("runs as `blockferry users` from the command line", async () => {
    const r = await cliProcess(["users", "list"], { env });
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toMatch(/^1\talice\tadmin\t/);
  }, 120_000);
});

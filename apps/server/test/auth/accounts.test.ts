// Logins, sessions, tokens and first-run setup through the real API and the real SQLite database.
import type { AuditPage, CreatedApiToken, Session } from "@blockferry/contracts";
import { afterEach, describe, expect, it } from "vitest";
import { createSessions } from "../../src/auth/sessions.ts";
import { createAuditRepo } from "../../src/db/repositories/audit.ts";
import { createSessionsRepo } from "../../src/db/repositories/sessions.ts";
import { createUsersRepo } from "../../src/db/repositories/users.ts";
import { HIDDEN_COMMAND } from "../../src/routes/migrations/mask.ts";
import { type TestApp, tempDb, testApp } from "../support/helpers.ts";
import { seedJob } from "../support/job-seed.ts";
import { cookieOf, login, loginAs, PASSWORD } from "./session-support.ts";

describe("accounts, sessions and tokens", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  it("logs in with an HttpOnly SameSite=Strict cookie, says who is logged in, and logs out", async () => {
    t = await testApp();
    const { cookie, session, username } = await loginAs(t, "viewer");
    const res = await login(t, username, PASSWORD);
    const set = String(res.headers["set-cookie"]);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).not.toMatch(/Secure/);
    const me = await t.inject({ method: "GET", url: "/api/session", as: "anonymous", headers: { cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json<Session>()).toMatchObject({ user: { username, role: "viewer" }, csrfToken: session.csrfToken });
    const out = await t.inject({
      method: "DELETE",
      url: "/api/session",
      as: "anonymous",
      headers: { cookie, "x-csrf-token": session.csrfToken },
    });
    expect(out.statusCode).toBe(204);
    const after = await t.inject({ method: "GET", url: "/api/migrations", as: "anonymous", headers: { cookie } });
    expect(after.statusCode).toBe(401);
  });

  it("answers a wrong password and an unknown user alike, and throttles 20 wrong passwords in a row", async () => {
    t = await testApp();
    const { username } = await loginAs(t, "operator");
    const wrong = await login(t, username, "not the password");
    const unknown = await login(t, "nobody-here", "not the password");
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json().error.message).toBe(unknown.json().error.message);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await login(t, username, `guess ${i}`)).statusCode);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
    // Locked: even the right password waits, so guessing on cannot tell which try was right.
    expect((await login(t, username, PASSWORD)).statusCode).toBe(429);
    // Unknown names lock the same way, so the lock does not reveal which names exist.
    for (let i = 0; i < 6; i++) await login(t, "nobody-here", `guess ${i}`);
    expect((await login(t, "nobody-here", "guess")).statusCode).toBe(429);
    const failed = t.runtime.audit.page({ limit: 500 }).filter((e) => e.action === "login.failed");
    expect(failed.length).toBeGreaterThanOrEqual(5);
    expect(failed[0]?.address).toBe("127.0.0.1");
  });

  it("stops a revoked token and a removed user's token and session at once", async () => {
    t = await testApp();
    const created = await t.inject({ method: "POST", url: "/api/tokens", payload: { name: "ci", role: "operator" } });
    expect(created.statusCode).toBe(201);
    const { token, apiToken } = created.json<CreatedApiToken>();
    expect(token).toMatch(/^bft_/);
    expect((await t.inject({ method: "GET", url: "/api/migrations", as: token })).statusCode).toBe(200);
    const listed = await t.inject({ method: "GET", url: "/api/tokens" });
    expect(JSON.stringify(listed.json())).not.toContain(token);
    expect(listed.json().tokens.find((x: { id: number }) => x.id === apiToken.id).lastUsedAt).not.toBeNull();
    expect((await t.inject({ method: "DELETE", url: `/api/tokens/${apiToken.id}` })).statusCode).toBe(204);
    expect((await t.inject({ method: "GET", url: "/api/migrations", as: token })).statusCode).toBe(401);

    const { cookie, username } = await loginAs(t, "operator");
    const userToken = await t.tokenFor("operator", `${username}-2`);
    const user = t.runtime.auth.accounts.byName(`${username}-2`);
    expect((await t.inject({ method: "GET", url: "/api/hosts", as: userToken })).statusCode).toBe(200);
    expect((await t.inject({ method: "DELETE", url: `/api/users/${user?.id}` })).statusCode).toBe(204);
    expect((await t.inject({ method: "GET", url: "/api/hosts", as: userToken })).statusCode).toBe(401);
    const sessionUser = t.runtime.auth.accounts.byName(username);
    expect((await t.inject({ method: "DELETE", url: `/api/users/${sessionUser?.id}` })).statusCode).toBe(204);
    const gone = await t.inject({ method: "GET", url: "/api/hosts", as: "anonymous", headers: { cookie } });
    expect(gone.statusCode).toBe(401);
  });

  it("ends a user's sessions when their password changes, and keeps the last admin", async () => {
    t = await testApp();
    const { cookie, username } = await loginAs(t, "operator");
    const id = t.runtime.auth.accounts.byName(username)?.id;
    const changed = await t.inject({
      method: "PATCH",
      url: `/api/users/${id}`,
      payload: { password: "another long one" },
    });
    expect(changed.statusCode).toBe(200);
    expect(
      (await t.inject({ method: "GET", url: "/api/hosts", as: "anonymous", headers: { cookie } })).statusCode,
    ).toBe(401);
    const admin = t.runtime.auth.accounts.byName("admin");
    const demote = await t.inject({ method: "PATCH", url: `/api/users/${admin?.id}`, payload: { role: "viewer" } });
    expect(demote.statusCode).toBe(409);
    expect((await t.inject({ method: "DELETE", url: `/api/users/${admin?.id}` })).statusCode).toBe(409);
  });

  it("lets a token act with no more than its owner's current role", async () => {
    t = await testApp();
    const admin2 = await t.runtime.auth.accounts.create({ username: "admin2", password: PASSWORD, role: "admin" });
    const owner = { userId: admin2.id, username: "admin2", role: "admin" as const, via: "session" as const };
    const { token } = t.runtime.auth.tokens.create({ name: "auto", role: "admin" }, owner, { name: "admin2" });
    expect((await t.inject({ method: "GET", url: "/api/users", as: token })).statusCode).toBe(200);
    await t.inject({ method: "PATCH", url: `/api/users/${admin2.id}`, payload: { role: "viewer" } });
    expect((await t.inject({ method: "GET", url: "/api/users", as: token })).statusCode).toBe(403);
  });

  it("creates the first admin only with the setup token, once", async () => {
    t = await testApp();
    // testApp starts with an admin; a fresh database has none.
    createUsersRepo(t.db).remove(t.runtime.auth.accounts.byName("admin")?.id ?? 0);
    expect((await t.inject({ method: "GET", url: "/api/setup", as: "anonymous" })).json()).toEqual({ needed: true });
    const setupToken = t.runtime.auth.firstRun.token() ?? "";
    const body = { username: "root-admin", password: PASSWORD };
    const wrong = await t.inject({
      method: "POST",
      url: "/api/setup",
      as: "anonymous",
      payload: { ...body, setupToken: "guess" },
    });
    expect(wrong.statusCode).toBe(403);
    const ok = await t.inject({ method: "POST", url: "/api/setup", as: "anonymous", payload: { ...body, setupToken } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json<Session>().user).toMatchObject({ username: "root-admin", role: "admin" });
    const cookie = cookieOf(ok.headers["set-cookie"]);
    expect(
      (await t.inject({ method: "GET", url: "/api/users", as: "anonymous", headers: { cookie } })).statusCode,
    ).toBe(200);
    const again = await t.inject({
      method: "POST",
      url: "/api/setup",
      as: "anonymous",
      payload: { ...body, setupToken },
    });
    expect(again.statusCode).toBe(409);
    expect(t.runtime.auth.firstRun.token()).toBeUndefined();
  });

  it("shows viewers no VM commands, and audits who did what from where, in pages", async () => {
    t = await testApp();
    const vm = {
      controller: "commands" as const,
      stopSource: "curl -H 'Bearer s3cret' stop",
      startTarget: "start {device}",
      status: "curl -H 'Bearer s3cret' status",
    };
    const { job } = seedJob(t.db, { vm });
    const viewer = await t.tokenFor("viewer");
    const seen = await t.inject({ method: "GET", url: `/api/migrations/${job.id}`, as: viewer });
    expect(JSON.stringify(seen.json())).not.toContain("s3cret");
    expect(seen.json().vm.stopSource).toBe(HIDDEN_COMMAND);
    expect(seen.json().vm.status).toBe(HIDDEN_COMMAND);
    const list = await t.inject({ method: "GET", url: "/api/migrations", as: viewer });
    expect(JSON.stringify(list.json())).not.toContain("s3cret");
    const operator = await t.tokenFor("operator");
    const full = await t.inject({ method: "GET", url: `/api/migrations/${job.id}`, as: operator });
    expect(full.json().vm.stopSource).toContain("s3cret");

    await t.inject({ method: "POST", url: `/api/migrations/${job.id}/cancel`, as: operator });
    for (let i = 0; i < 3; i++) await login(t, "admin", `wrong ${i}`);
    const first = (await t.inject({ method: "GET", url: "/api/audit?limit=2" })).json<AuditPage>();
    expect(first.entries).toHaveLength(2);
    expect(first.entries[0]).toMatchObject({ action: "login.failed", actor: "anonymous", address: "127.0.0.1" });
    const second = (
      await t.inject({ method: "GET", url: `/api/audit?limit=50&before=${first.nextBefore}` })
    ).json<AuditPage>();
    const cancel = second.entries.find((e) => e.action === "migration.cancel");
    expect(cancel?.actor).toMatch(/^operator-.* \(token \d+\)$/);
    expect(cancel?.address).toBe("127.0.0.1");
    expect(second.entries.map((e) => e.action)).toContain("token.create");
    expect(second.entries.every((e) => e.id < (first.nextBefore ?? 0))).toBe(true);
  });
});

describe("session expiry", () => {
  it("ends a session after its idle time, and after its absolute lifetime however busy", async () => {
    const { db, cleanup } = tempDb();
    try {
      let now = 1_000_000;
      const users = createUsersRepo(db);
      const user = users.insert("ann", "x", "viewer");
      const sessions = createSessions({
        users,
        sessions: createSessionsRepo(db),
        audit: createAuditRepo(db),
        policy: { idleMs: 60_000, maxMs: 300_000 },
        now: () => now,
      });
      const idle = sessions.openFor(user?.id ?? 0, null);
      now += 59_000;
      expect(sessions.resolve(idle.token)).toBeDefined();
      now += 59_000;
      expect(sessions.resolve(idle.token)).toBeDefined();
      now += 61_000;
      expect(sessions.resolve(idle.token)).toBeUndefined();

      const busy = sessions.openFor(user?.id ?? 0, null);
      for (let i = 0; i < 9; i++) {
        now += 30_000;
        expect(sessions.resolve(busy.token), `after ${(i + 1) * 30} s`).toBeDefined();
      }
      now += 31_000;
      expect(sessions.resolve(busy.token)).toBeUndefined();
    } finally {
      cleanup();
    }
  });
});

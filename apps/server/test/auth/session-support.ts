import type { Role, Session } from "@blockferry/contracts";
import { expect } from "vitest";
import type { TestApp } from "../support/helpers.ts";

export const PASSWORD = "correct horse battery staple";

/** A new user with `role`, logged in through POST /api/session as a browser would: its cookie and CSRF token. */
export async function loginAs(
  t: TestApp,
  role: Role,
  username = `${role}-${crypto.randomUUID().slice(0, 8)}`,
): Promise<{ cookie: string; csrfToken: string; session: Session; username: string }> {
  await t.runtime.auth.accounts.create({ username, password: PASSWORD, role });
  const res = await login(t, username, PASSWORD);
  expect(res.statusCode).toBe(200);
  const session = res.json<Session>();
  return { cookie: cookieOf(res.headers["set-cookie"]), csrfToken: session.csrfToken, session, username };
}

export const login = (t: TestApp, username: string, password: string, headers: Record<string, string> = {}) =>
  t.inject({ method: "POST", url: "/api/session", as: "anonymous", payload: { username, password }, headers });

/** `name=value` of the session cookie from a Set-Cookie header. */
export function cookieOf(setCookie: string | string[] | undefined): string {
  const first = [setCookie ?? []].flat().find((c) => c.startsWith("bf_session="));
  if (!first) throw new Error("no session cookie was set");
  return first.split(";")[0] ?? "";
}

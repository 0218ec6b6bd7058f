// What a hostile page or a DNS-rebinding name can try against a logged-in operator's server, each refused before
// any route runs: bodies that are not JSON, foreign origins, cross-site fetches, missing CSRF tokens, foreign Host
// names, and websockets without credentials or from a foreign origin.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type TestApp, testApp } from "../support/helpers.ts";
import { seedJob } from "../support/job-seed.ts";
import { loginAs } from "./session-support.ts";

describe("request checks", () => {
  let t: TestApp;
  let cookie: string;
  let csrfToken: string;
  let jobId: number;

  beforeAll(async () => {
    t = await testApp();
    ({ cookie, csrfToken } = await loginAs(t, "operator"));
    jobId = seedJob(t.db).job.id;
  });
  afterAll(async () => t.close());

  const cancel = (headers: Record<string, string>, payload?: string) =>
    t.app.inject({ method: "POST", url: `/api/migrations/${jobId}/cancel`, headers: { cookie, ...headers }, payload });

  it("refuses text/plain and form posts with 415, even with the right CSRF token", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const res = await cancel({ "content-type": type, "x-csrf-token": csrfToken }, "a=b");
      expect(res.statusCode, type).toBe(415);
      expect(res.json().error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    }
    const bare = await cancel({ "x-csrf-token": csrfToken });
    expect(bare.statusCode).toBe(415);
  });

  it("refuses a foreign Origin and cross-site fetch metadata with 403", async () => {
    const json = { "content-type": "application/json", "x-csrf-token": csrfToken };
    const foreign = await cancel({ ...json, origin: "https://evil.example" });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error.code).toBe("FOREIGN_ORIGIN");
    const otherPort = await cancel({ ...json, origin: "http://localhost:9999" });
    expect(otherPort.statusCode).toBe(403);
    const crossSite = await cancel({ ...json, "sec-fetch-site": "cross-site" });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.json().error.code).toBe("CROSS_SITE");
    const read = await t.app.inject({
      method: "GET",
      url: "/api/migrations",
      headers: { cookie, origin: "https://evil.example" },
    });
    expect(read.statusCode).toBe(403);
  });

  it("refuses a cookie request without the session's CSRF token, and takes it with the token", async () => {
    const json = { "content-type": "application/json" };
    for (const headers of [json, { ...json, "x-csrf-token": "wrong" }, { ...json, "x-csrf-token": "" }]) {
      const res = await cancel(headers);
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe("CSRF_TOKEN_INVALID");
    }
    expect((await t.inject({ method: "GET", url: `/api/migrations/${jobId}` })).json().state).toBe("queued");
    const sameOrigin = await cancel({ ...json, "x-csrf-token": csrfToken, origin: "http://localhost:80" });
    expect(sameOrigin.statusCode).toBe(200);
    const audit = t.runtime.audit.page({ limit: 1 })[0];
    expect(audit).toMatchObject({ action: "migration.cancel", actor: expect.stringMatching(/^operator-/) });
    expect(audit?.address).toBe("127.0.0.1");
  });

  it("answers 421 to a Host header it is not served under", async () => {
    for (const host of ["attacker.example", "attacker.example:80", "localhost.attacker.example"]) {
      const res = await t.inject({ method: "GET", url: "/api/health", headers: { host } });
      expect(res.statusCode, host).toBe(421);
      expect(res.json().error.code).toBe("MISDIRECTED_REQUEST");
    }
    const ok = await t.inject({ method: "GET", url: "/api/health", headers: { host: "127.0.0.1:7878" } });
    expect(ok.statusCode).toBe(200);
  });

  describe("websocket", () => {
    let base: string;
    beforeAll(async () => {
      base = (await t.app.listen({ port: 0, host: "127.0.0.1" })).replace("http", "ws");
    });

    /** The HTTP status the upgrade was refused with, or 101 when it was accepted. */
    const upgrade = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${base}/api/events/stream`, { headers });
        ws.once("open", () => {
          ws.close();
          resolve(101);
        });
        ws.once("unexpected-response", (req, res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        ws.once("error", reject);
      });

    it("refuses a socket without credentials or from a foreign origin, and takes a cookie or a token", async () => {
      expect(await upgrade({})).toBe(401);
      expect(await upgrade({ cookie, origin: "https://evil.example" })).toBe(403);
      expect(await upgrade({ authorization: `Bearer ${t.adminToken}`, origin: "https://evil.example" })).toBe(403);
      expect(await upgrade({ authorization: "Bearer bft_forged" })).toBe(401);
      expect(await upgrade({ cookie, origin: base.replace("ws", "http") })).toBe(101);
      expect(await upgrade({ authorization: `Bearer ${t.adminToken}` })).toBe(101);
    });

    it("caps the sockets one user holds open", async () => {
      const token = await t.tokenFor("viewer");
      const open: WebSocket[] = [];
      try {
        let refusedWith = 0;
        for (let i = 0; i < 30 && !refusedWith; i++) {
          const ws = new WebSocket(`${base}/api/events/stream`, { headers: { authorization: `Bearer ${token}` } });
          refusedWith = await new Promise<number>((resolve, reject) => {
            ws.once("open", () => resolve(0));
            ws.once("unexpected-response", (req, res) => {
              resolve(res.statusCode ?? -1);
              req.destroy();
            });
            ws.once("error", reject);
          });
          if (!refusedWith) open.push(ws);
        }
        expect(refusedWith).toBe(429);
        expect(open.length).toBe(20);
        // Another user is not affected.
        expect(await upgrade({ authorization: `Bearer ${t.adminToken}` })).toBe(101);
      } finally {
        for (const ws of open) ws.terminate();
      }
    });
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { DomainError, NotFoundError } from "../../src/errors.ts";
import { HostKeyMismatchError, RemoteTimeoutError } from "../../src/hosts/transport/errors.ts";
import { type TestApp, testApp } from "../support/helpers.ts";

describe("HTTP API", () => {
  let t: TestApp;
  afterEach(async () => t.close());

  it("answers /api/health", async () => {
    t = await testApp();
    const res = await t.inject({ method: "GET", url: "/api/health" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "ok", version: "test" });
  });

  it("publishes an OpenAPI document listing the routes", async () => {
    t = await testApp();
    const res = await t.inject({ method: "GET", url: "/api/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/api/health", "/api/events"]));
  });

  it("gives unknown routes the documented error body with the request id", async () => {
    t = await testApp();
    const res = await t.inject({ method: "GET", url: "/api/nope", headers: { "x-request-id": "req-42" } });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: "NOT_FOUND", message: expect.any(String), requestId: "req-42" } });
  });

  it("rejects invalid input with 400 and the validation details", async () => {
    t = await testApp();
    const res = await t.inject({ method: "GET", url: "/api/events?limit=abc" });
    expect(res.statusCode).toBe(400);
    const body = res.json() as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe("INVALID_INPUT");
    expect(body.error.requestId).toMatch(/[0-9a-f-]{36}/);
  });

  it("maps domain errors to status codes and hides internals of 5xx", async () => {
    t = await testApp();
    t.app.get("/api/test/missing", async () => {
      throw new NotFoundError("host", 7);
    });
    t.app.get("/api/test/crash", async () => {
      throw new Error("secret path /etc/shadow leaked");
    });
    const missing = await t.inject({ method: "GET", url: "/api/test/missing" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: "NOT_FOUND", message: "host 7 does not exist" } });
    const crash = await t.inject({ method: "GET", url: "/api/test/crash" });
    expect(crash.statusCode).toBe(500);
    expect(crash.body).not.toContain("shadow");
    expect(crash.json()).toMatchObject({
      error: { code: "INTERNAL", message: expect.stringMatching(/^Internal server error; see the server log/) },
    });
  });

  it("answers a remote timeout 504 and any other 5xx domain error without its message or details", async () => {
    t = await testApp();
    t.app.get("/api/test/timeout", async () => {
      const err = new RemoteTimeoutError("root@10.9.8.7:2222", "lvs --secret-arg", 30_000);
      err.hostName = "hv7";
      throw err;
    });
    t.app.get("/api/test/domain-500", async () => {
      throw new DomainError("SOMETHING", "state file /var/lib/x is odd", { path: "/var/lib/x" });
    });
    const timeout = await t.inject({ method: "GET", url: "/api/test/timeout", headers: { "x-request-id": "r1" } });
    expect(timeout.statusCode).toBe(504);
    expect(timeout.json()).toEqual({
      error: {
        code: "REMOTE_COMMAND_TIMEOUT",
        message: "a command on host hv7 timed out; see the server log, request id r1",
        requestId: "r1",
      },
    });
    const odd = await t.inject({ method: "GET", url: "/api/test/domain-500" });
    expect(odd.statusCode).toBe(500);
    expect(odd.body).not.toContain("/var/lib");
    expect(odd.json()).toMatchObject({ error: { code: "INTERNAL" } });
  });

  it("answers a host key mismatch 422 with the fingerprints but not the address", async () => {
    t = await testApp();
    t.app.get("/api/test/mismatch", async () => {
      const err = new HostKeyMismatchError("root@10.9.8.7:2222", "SHA256:old", "SHA256:new");
      err.hostName = "hv7";
      throw err;
    });
    const res = await t.inject({ method: "GET", url: "/api/test/mismatch" });
    expect(res.statusCode).toBe(422);
    expect(res.body).not.toContain("10.9.8.7");
    expect(res.json()).toMatchObject({
      error: {
        code: "HOST_KEY_MISMATCH",
        message: expect.stringContaining("hv7 presented host key SHA256:new, not the pinned SHA256:old"),
        details: { expectedFingerprint: "SHA256:old", presentedFingerprint: "SHA256:new" },
      },
    });
  });

  /** Errors Fastify raises itself (before or while parsing) carry the same body as ours. */
  it.each([
    ["a URL that does not decode", { method: "GET", url: "/api/migrations/%E0", headers: {} }, 400, "BAD_URL"],
    [
      "a JSON body that does not parse",
      { method: "POST", url: "/api/hosts", headers: { "content-type": "application/json" }, payload: "{nope" },
      400,
      "INVALID_JSON",
    ],
    [
      "a body over the limit",
      {
        method: "POST",
        url: "/api/hosts",
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({ name: "x".repeat(1_100_000) }),
      },
      413,
      "BODY_TOO_LARGE",
    ],
    [
      "an unsupported media type",
      { method: "POST", url: "/api/hosts", headers: { "content-type": "application/xml" }, payload: "<host/>" },
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    ],
  ] as const)("gives %s the documented error body", async (_what, request, status, code) => {
    t = await testApp();
    const res = await t.inject({ ...request, headers: { ...request.headers, "x-request-id": "req-fst" } });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ error: { code, message: expect.any(String), requestId: "req-fst" } });
  });
});

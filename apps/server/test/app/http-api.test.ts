import { afterEach, describe, expect, it } from "vitest";
import { NotFoundError } from "../../src/errors.ts";
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
    expect(crash.json()).toMatchObject({ error: { code: "INTERNAL", message: "Internal server error" } });
  });
});

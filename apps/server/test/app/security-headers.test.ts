import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, testApp } from "../support/helpers.ts";

/** Every response, dashboard and API, carries the CSP and the other security headers; no HSTS over plain http. */
describe("security headers", () => {
  const webDir = mkdtempSync(join(tmpdir(), "bf-web-"));
  let t: TestApp;
  beforeAll(async () => {
    writeFileSync(join(webDir, "index.html"), "<!doctype html><title>Blockferry</title>");
    t = await testApp({ webDir });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(webDir, { recursive: true, force: true });
  });

  it.each(["/", "/migrations/3", "/api/health", "/api/hosts", "/api/nope"])("on %s", async (url) => {
    const res = await t.inject({ method: "GET", url });
    expect(res.statusCode).toBeLessThan(500);
    const csp = String(res.headers["content-security-policy"]);
    const directives = Object.fromEntries(
      csp.split(";").map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values.join(" ")];
      }),
    );
    expect(directives).toEqual({
      "default-src": "'self'",
      "script-src": "'self'",
      "style-src": "'self'",
      "img-src": "'self'",
      "connect-src": "'self'",
      "font-src": "'self'",
      "object-src": "'none'",
      "base-uri": "'none'",
      "form-action": "'self'",
      "frame-ancestors": "'none'",
    });
    expect(res.headers).toMatchObject({
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
      "cross-origin-opener-policy": "same-origin",
    });
    expect(res.headers["strict-transport-security"]).toBeUndefined();
  });
});

// Every route the API documents, walked from /api/openapi.json (not from a hand-written list, so a new route cannot
// be forgotten; the websocket, which the document leaves out, is covered in request-checks.test.ts): without credentials it answers 401 unless it is one of the few public ones, a viewer is refused
// every unsafe route, and an operator every host, user and token change.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, testApp } from "../support/helpers.ts";

const PUBLIC = new Set(["getHealth", "login", "getSetupStatus", "createFirstAdmin"]);
const SAFE = new Set(["get", "head", "options"]);
/** Unsafe, yet anyone logged in may: ending one's own session. */
const EVERY_ROLE = new Set(["logout"]);

interface Operation {
  method: string;
  url: string;
  operationId: string;
  tags: string[];
}

function operationsOf(doc: { paths: Record<string, Record<string, { operationId?: string; tags?: string[] }>> }) {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!op.operationId) continue;
      // Path parameters get a plausible value: the guard answers before any route looks at them.
      ops.push({ method, url: path.replace(/\{[^}]+\}/g, "1"), operationId: op.operationId, tags: op.tags ?? [] });
    }
  }
  return ops;
}

describe("route access, from the OpenAPI document", () => {
  let t: TestApp;
  let ops: Operation[];
  let viewer: string;
  let operator: string;

  beforeAll(async () => {
    t = await testApp();
    const doc = await t.inject({ method: "GET", url: "/api/openapi.json" });
    expect(doc.statusCode).toBe(200);
    ops = operationsOf(doc.json());
    viewer = await t.tokenFor("viewer");
    operator = await t.tokenFor("operator");
  });
  afterAll(async () => t.close());

  const call = (op: Operation, as: string) =>
    t.inject({
      method: op.method.toUpperCase() as "GET",
      url: op.url,
      as,
      ...(!SAFE.has(op.method) && { payload: {} }),
    });

  it("documents the routes this test walks, public ones included", () => {
    expect(ops.length).toBeGreaterThan(25);
    for (const id of [...PUBLIC, "listMigrations", "cancelMigration", "createToken", "listAudit"])
      expect(ops.map((o) => o.operationId)).toContain(id);
  });

  it("answers 401 without credentials on every route but health, login and first-run setup", async () => {
    const open: string[] = [];
    for (const op of ops) {
      const res = await call(op, "anonymous");
      if (PUBLIC.has(op.operationId)) {
        expect(res.statusCode, op.operationId).not.toBe(401);
        continue;
      }
      if (res.statusCode !== 401) open.push(`${op.method} ${op.url} -> ${res.statusCode}`);
      else expect(res.json().error.code).toBe("UNAUTHENTICATED");
    }
    expect(open).toEqual([]);
  });

  it("refuses a viewer every unsafe route, and admin reads", async () => {
    const allowed: string[] = [];
    for (const op of ops) {
      if (PUBLIC.has(op.operationId) || EVERY_ROLE.has(op.operationId)) continue;
      const adminRead = ["users", "tokens", "audit"].some((tag) => op.tags.includes(tag));
      if (SAFE.has(op.method) && !adminRead) continue;
      const res = await call(op, viewer);
      if (res.statusCode !== 403) allowed.push(`${op.method} ${op.url} -> ${res.statusCode}`);
    }
    expect(allowed).toEqual([]);
  });

  it("refuses an operator host, user and token changes but lets them act on migrations", async () => {
    const allowed: string[] = [];
    for (const op of ops) {
      if (PUBLIC.has(op.operationId) || !["hosts", "users", "tokens", "audit"].some((tag) => op.tags.includes(tag)))
        continue;
      if (op.tags.includes("hosts") && SAFE.has(op.method)) continue;
      const res = await call(op, operator);
      if (res.statusCode !== 403) allowed.push(`${op.method} ${op.url} -> ${res.statusCode}`);
    }
    expect(allowed).toEqual([]);
    // A migration action gets past the guard to the route itself: 404 for a job that does not exist.
    const cancel = await t.inject({ method: "POST", url: "/api/migrations/999/cancel", as: operator });
    expect(cancel.statusCode).toBe(404);
    const viewerCancel = await t.inject({ method: "POST", url: "/api/migrations/999/cancel", as: viewer });
    expect(viewerCancel.statusCode).toBe(403);
  });
});

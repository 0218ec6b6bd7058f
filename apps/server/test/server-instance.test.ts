import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { INSTANCE_FILE, serverInstance } from "../src/server-instance.ts";

const dir = mkdtempSync(join(tmpdir(), "bf-instance-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("server instance id", () => {
  it("is made once beside the database (8 hex digits, 0600) and read back after; another data dir gets its own", () => {
    const first = serverInstance(join(dir, "a.db"));
    expect(first).toMatch(/^[0-9a-f]{8}$/);
    expect(serverInstance(join(dir, "a.db"))).toBe(first);
    expect(readFileSync(join(dir, INSTANCE_FILE), "utf8")).toBe(`${first}\n`);
    expect(statSync(join(dir, INSTANCE_FILE)).mode & 0o777).toBe(0o600);
    const other = mkdtempSync(join(dir, "other-"));
    expect(serverInstance(join(other, "b.db"))).not.toBe(first);
  });
});

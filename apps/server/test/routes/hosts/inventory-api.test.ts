import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ErrorBody, Host } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../../test-support/loopback-sshd.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

/** GET /hosts/:id/inventory against a real sshd whose lvs floods its output. */
describe("inventory of a host that prints too much", () => {
  const tools = mkdtempSync(join(tmpdir(), "bf-inv-api-"));
  let sshd: LoopbackSshd;
  let t: TestApp;
  beforeAll(async () => {
    writeFileSync(
      join(tools, "lvs"),
      "#!/bin/sh\n/usr/bin/yes blockferry-inventory-flood | /usr/bin/head -c 16777216\n",
    );
    chmodSync(join(tools, "lvs"), 0o755);
    sshd = await startLoopbackSshd({ path: tools });
    t = await testApp();
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(tools, { recursive: true, force: true });
  });

  it("answers 422 with the reason, not a 500", async () => {
    const added = await t.inject({
      method: "POST",
      url: "/api/hosts",
      payload: { name: "noisy", address: sshd.host, port: sshd.port, privateKey: sshd.privateKey },
    });
    const id = (added.json() as { host: Host }).host.id;
    await t.inject({
      method: "POST",
      url: `/api/hosts/${id}/trust`,
      payload: { fingerprint: sshd.hostKeyFingerprint },
    });
    const res = await t.inject({ method: "GET", url: `/api/hosts/${id}/inventory` });
    expect(res.statusCode).toBe(422);
    expect((res.json() as ErrorBody).error).toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringContaining(`noisy answered the inventory with more than ${4 << 20} bytes`),
      details: { code: "REMOTE_OUTPUT_TOO_LARGE", maxOutputBytes: 4 << 20 },
    });
  });
});

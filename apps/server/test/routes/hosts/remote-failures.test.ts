import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ErrorBody, Host } from "@blockferry/contracts";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type LoopbackSshd, startLoopbackSshd } from "../../../../../test-support/loopback-sshd.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

const STDERR_MARK = "vgs-stderr-mark /dev/mapper/secret";

/**
 * Hypervisor failures over HTTP against a real OpenSSH sshd whose `vgs` fails: 502 with the host's registered name and the
 * request id, never its address, port, user, the command line or its stderr; those go to the server log.
 */
describe("a failing hypervisor behind the API", () => {
  const tools = mkdtempSync(join(tmpdir(), "bf-remote-fail-"));
  let sshd: LoopbackSshd;
  let t: TestApp;
  let log = "";
  let id = 0;
  beforeAll(async () => {
    for (const tool of ["vgs", "lvs"]) {
      writeFileSync(join(tools, tool), `#!/bin/sh\necho '${STDERR_MARK}' >&2\nexit 5\n`);
      chmodSync(join(tools, tool), 0o755);
    }
    sshd = await startLoopbackSshd({ path: `${tools}:/usr/bin:/bin` });
    const logger = pino(
      { level: "info" },
      {
        write: (line: string) => {
          log += line;
        },
      },
    );
    t = await testApp({ logger });
    const added = await t.inject({
      method: "POST",
      url: "/api/hosts",
      payload: { name: "hv-broken", address: sshd.host, port: sshd.port, privateKey: sshd.privateKey },
    });
    id = (added.json() as { host: Host }).host.id;
    const trusted = await t.inject({
      method: "POST",
      url: `/api/hosts/${id}/trust`,
      payload: { fingerprint: sshd.hostKeyFingerprint },
    });
    expect(trusted.statusCode).toBe(200);
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(tools, { recursive: true, force: true });
  });

  /** The body names nothing of the remote side; the log has the full error under the same request id. */
  const expectSafe = (body: string, requestId: string) => {
    for (const leak of [sshd.host, String(sshd.port), "root@", "vgs", "lvs", "stderr-mark", "secret"])
      expect(body).not.toContain(leak);
    const line = log.split("\n").find((l) => l.includes(requestId) && l.includes('"level":50'));
    expect(line).toBeDefined();
    return line as string;
  };

  it("a command that fails in prechecks: 502 REMOTE_COMMAND_FAILED naming the host by its name", async () => {
    const res = await t.inject({
      method: "POST",
      url: "/api/prechecks",
      headers: { "x-request-id": "req-precheck" },
      payload: {
        source: { hostId: id, vg: "vg0", lv: "vm1" },
        target: { hostId: id, vg: "vg1" },
        vm: { controller: "commands", stopSource: "true", startTarget: "true" },
      },
    });
    expect(res.statusCode).toBe(502);
    expect((res.json() as ErrorBody).error).toEqual({
      code: "REMOTE_COMMAND_FAILED",
      message: "a command failed on host hv-broken; see the server log, request id req-precheck",
      requestId: "req-precheck",
    });
    const line = expectSafe(res.body, "req-precheck");
    expect(line).toContain("stderr-mark");
    expect(line).toContain(`root@${sshd.host}:${sshd.port}`);
  });

  it("an inventory the host cannot answer: 502, the stderr only in the log", async () => {
    const res = await t.inject({
      method: "GET",
      url: `/api/hosts/${id}/inventory`,
      headers: { "x-request-id": "req-inventory" },
    });
    expect(res.statusCode).toBe(502);
    expect((res.json() as ErrorBody).error).toMatchObject({
      code: "INVENTORY_FAILED",
      message: expect.stringContaining("host hv-broken"),
    });
    expect(expectSafe(res.body, "req-inventory")).toContain("stderr-mark");
  });

  it("a host whose sshd is gone: 502 HOST_UNREACHABLE for inventory and probe", async () => {
    sshd.kill();
    const inv = await t.inject({
      method: "GET",
      url: `/api/hosts/${id}/inventory`,
      headers: { "x-request-id": "req-down" },
    });
    expect(inv.statusCode).toBe(502);
    // The pooled connection drops under the first request; the next one finds nothing listening.
    expect((inv.json() as ErrorBody).error.message).toMatch(
      /^(the connection to host hv-broken was lost|host hv-broken could not be reached); .* req-down$/,
    );
    expect((inv.json() as ErrorBody).error.details).toBeUndefined();
    expect(expectSafe(inv.body, "req-down")).toContain(`${sshd.host}:${sshd.port}`);

    // Health answers 200 with the kind of failure only.
    const health = await t.inject({ method: "GET", url: `/api/hosts/${id}/health` });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ reachable: false, latencyMs: null, error: expect.stringContaining("hv-broken") });
    for (const leak of [sshd.host, String(sshd.port), "root@", "ECONNREFUSED"]) expect(health.body).not.toContain(leak);

    const again = await t.inject({
      method: "GET",
      url: `/api/hosts/${id}/inventory`,
      headers: { "x-request-id": "req-down-2" },
    });
    expect(again.statusCode).toBe(502);
    expect((again.json() as ErrorBody).error).toEqual({
      code: "HOST_UNREACHABLE",
      message: "host hv-broken could not be reached; see the server log, request id req-down-2",
      requestId: "req-down-2",
    });
    expectSafe(again.body, "req-down-2");

    const probe = await t.inject({
      method: "POST",
      url: `/api/hosts/${id}/probe`,
      headers: { "x-request-id": "req-probe" },
    });
    expect(probe.statusCode).toBe(502);
    expect(probe.json()).toMatchObject({ error: { code: "HOST_UNREACHABLE", requestId: "req-probe" } });
    expect(expectSafe(probe.body, "req-probe")).toContain("ECONNREFUSED");
  });

  it("a host on a closed port cannot be trusted: 502, not its address", async () => {
    const port = await freePort();
    const added = await t.inject({
      method: "POST",
      url: "/api/hosts",
      payload: { name: "hv-closed", address: "127.0.0.1", port, privateKey: sshd.privateKey },
    });
    const closed = (added.json() as { host: Host }).host.id;
    const res = await t.inject({
      method: "POST",
      url: `/api/hosts/${closed}/trust`,
      headers: { "x-request-id": "req-trust" },
      payload: { fingerprint: sshd.hostKeyFingerprint },
    });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toMatchObject({
      error: { code: "HOST_UNREACHABLE", message: expect.stringContaining("hv-closed") },
    });
    expect(res.body).not.toContain(String(port));
    expect(res.body).not.toContain("127.0.0.1");
  });
});

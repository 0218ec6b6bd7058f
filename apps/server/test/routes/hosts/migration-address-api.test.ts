import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host, PrecheckResult } from "@blockferry/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type LoopbackSshd, startLoopbackSshd } from "../../../../../test-support/loopback-sshd.ts";
import { writeLvmStandIns } from "../../../../../test-support/lvm-stand-ins.ts";
import { type TestApp, testApp } from "../../support/helpers.ts";

// The direct path's probe reads the target's /etc/ssh host keys: the sshd serves this machine's own key, so the
// loopback "target" presents what its key file says, as a real hypervisor does.
const MACHINE_KEY = "/etc/ssh/ssh_host_ed25519_key";

describe.skipIf(!existsSync(MACHINE_KEY))("a host's migration address over HTTP, and the direct path precheck", () => {
  let sshd: LoopbackSshd;
  let t: TestApp;
  // The volume checks read LVM through stand-ins (no such volumes: those checks fail, the dry run still answers).
  const tools = mkdtempSync(join(tmpdir(), "bf-direct-precheck-"));
  const ids = { lab1: 0, lab2: 0 };
  beforeAll(async () => {
    writeLvmStandIns(tools);
    sshd = await startLoopbackSshd({ hostKey: MACHINE_KEY, path: `${tools}:/usr/bin:/bin` });
    t = await testApp();
    for (const name of ["lab1", "lab2"] as const) {
      const res = await t.inject({
        method: "POST",
        url: "/api/hosts",
        payload: { name, address: sshd.host, port: sshd.port, privateKey: sshd.privateKey },
      });
      ids[name] = (res.json() as { host: Host }).host.id;
      const trusted = await t.inject({
        method: "POST",
        url: `/api/hosts/${ids[name]}/trust`,
        payload: { fingerprint: sshd.hostKeyFingerprint },
      });
      expect(trusted.statusCode).toBe(200);
    }
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(tools, { recursive: true, force: true });
  });

  const patch = (payload: unknown, as?: string) =>
    t.inject({ method: "PATCH", url: `/api/hosts/${ids.lab2}`, payload: payload as object, as });

  it("sets and clears it (admins only), audited with the old and the new value", async () => {
    const set = await patch({ migrationAddress: "10.77.0.2:2222" });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ id: ids.lab2, migrationAddress: "10.77.0.2:2222" });
    expect((await patch({ migrationAddress: "[fd00::2]:22" })).json()).toMatchObject({
      migrationAddress: "[fd00::2]:22",
    });
    const cleared = await patch({ migrationAddress: null });
    expect(cleared.json()).toMatchObject({ migrationAddress: null });
    const audit = t.db.$client
      .prepare("select details from audit_log where action = 'host.update' order by id")
      .all() as Array<{ details: string }>;
    expect(audit.map((a) => JSON.parse(a.details).migrationAddress)).toEqual([
      { from: null, to: "10.77.0.2:2222" },
      { from: "10.77.0.2:2222", to: "[fd00::2]:22" },
      { from: "[fd00::2]:22", to: null },
    ]);

    const operator = await t.tokenFor("operator");
    expect((await patch({ migrationAddress: "10.77.0.2" }, operator)).statusCode).toBe(403);
    expect((await patch({ migrationAddress: "10.77.0.2" }, "anonymous")).statusCode).toBe(401);
    expect(
      (await t.inject({ method: "PATCH", url: "/api/hosts/999", payload: { migrationAddress: null } })).statusCode,
    ).toBe(404);
  });

  it("refuses what is not host[:port] with a message that says so", async () => {
    for (const [bad, says] of [
      ["a:b:c", "is not host[:port]"],
      ["10.77.0.2:70000", "the port must be 1..65535"],
      ["[10.0.0.1]:22", "brackets are for IPv6"],
      ["-oProxyCommand=x", "is not host[:port]"],
      ["lab2 ; reboot", "is not host[:port]"],
    ]) {
      const res = await patch({ migrationAddress: bad });
      expect(res.statusCode, bad).toBe(400);
      expect(res.json().error.message, bad).toContain(says);
    }
    expect((await patch({ migrationAddress: 22 })).statusCode).toBe(400);
    expect((await patch({ name: "x", migrationAddress: null })).statusCode).toBe(400);
    const add = await t.inject({
      method: "POST",
      url: "/api/hosts",
      payload: { name: "lab3", address: "127.0.0.1", privateKey: sshd.privateKey, migrationAddress: "h:99999" },
    });
    expect(add.statusCode).toBe(400);
    expect(add.json().error.message).toContain("the port must be 1..65535");
  });

  const prechecks = async (dataPath: string) => {
    const res = await t.inject({
      method: "POST",
      url: "/api/prechecks",
      payload: {
        source: { hostId: ids.lab1, vg: "vg0", lv: "vm1" },
        target: { hostId: ids.lab2, vg: "vg1" },
        vm: { controller: "commands", stopSource: "true", startTarget: "true" },
        options: { dataPath },
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as PrecheckResult).checks.find((c) => c.name === "direct path");
  };

  it("direct path precheck: passes where the source reaches the target's key, names the reason where not", async () => {
    expect(await prechecks("relay")).toBeUndefined();
    // No migration address: the address the server uses, where the machine's own key answers.
    expect(await prechecks("auto")).toEqual({
      name: "direct path",
      ok: true,
      message: expect.stringMatching(
        new RegExp(`^lab1 reaches lab2 at 127\\.0\\.0\\.1:${sshd.port} \\(pinned key\\): bytes go host to host`),
      ),
    });

    const closed = await freePort();
    await patch({ migrationAddress: `127.0.0.1:${closed}` });
    const t0 = Date.now();
    expect(await prechecks("auto")).toEqual({
      name: "direct path",
      ok: true,
      warning: true,
      message: `will use the relay: lab1 cannot reach lab2 at its migration address 127.0.0.1:${closed}`,
    });
    expect(await prechecks("direct")).toEqual({
      name: "direct path",
      ok: false,
      message: `lab1 cannot reach lab2 at its migration address 127.0.0.1:${closed}: set lab2's migration address to where lab1 reaches it, or use the relay`,
    });
    // Short timeouts: a refused port answers at once, and the whole dry run stays quick.
    expect(Date.now() - t0).toBeLessThan(15_000);
    await patch({ migrationAddress: null });
  });
});

// Pasted keys are stored sealed, key files are read only from the key directory, and the database files are
// private: checked on the real HTTP API, the real migrated SQLite files and a real sshd.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Host } from "@blockferry/contracts";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackSshd, startLoopbackSshd } from "../../../../../test-support/loopback-sshd.ts";
import { loadConfig } from "../../../src/config.ts";
import { openDb } from "../../../src/db/open.ts";
import { createHostsRepo } from "../../../src/db/repositories/hosts.ts";
import { createRuntime } from "../../../src/runtime.ts";
import { SECRET_KEY_FILE } from "../../../src/secrets/kek-file.ts";
import { generateKeyring } from "../../../src/secrets/keyring.ts";
import { startServer } from "../../../src/server.ts";
import { type TestApp, testApp, tokenOfNewUser } from "../../support/helpers.ts";

/** Every 40-character run of the key's base64 body: none may appear anywhere in the database's files. */
function keySlices(pem: string): string[] {
  const body = pem
    .split("\n")
    .filter((l) => l && !l.startsWith("-----"))
    .join("");
  expect(body.length).toBeGreaterThan(100);
  const out: string[] = [];
  for (let i = 0; i + 40 <= body.length; i++) out.push(body.slice(i, i + 40));
  return out;
}

/** The raw bytes of the database and its -wal and -shm (those that exist), as latin1 text to search. */
function rawDbFiles(dbFile: string): Array<{ file: string; text: string }> {
  return [dbFile, `${dbFile}-wal`, `${dbFile}-shm`]
    .filter((f) => existsSync(f))
    .map((file) => ({ file, text: readFileSync(file).toString("latin1") }));
}

function expectNoKeyIn(dbFile: string, pem: string): void {
  const files = rawDbFiles(dbFile);
  expect(files.map((f) => f.file)).toContain(dbFile);
  for (const { file, text } of files)
    for (const slice of keySlices(pem)) if (text.includes(slice)) expect.fail(`${file} holds part of the key`);
}

const mode = (path: string) => statSync(path).mode & 0o777;
const no = async (): Promise<never> => {
  throw new Error("this test runs no transfers");
};

describe("secrets at rest, over the HTTP API", () => {
  let sshd: LoopbackSshd;
  let t: TestApp;
  let keyDir: string;
  let outside: string;
  const keyring = generateKeyring();
  const post = (url: string, payload: object) => t.inject({ method: "POST", url, payload });
  const dbFile = () => t.db.$client.name;

  beforeAll(async () => {
    sshd = await startLoopbackSshd();
    keyDir = mkdtempSync(join(tmpdir(), "bf-keys-"));
    outside = mkdtempSync(join(tmpdir(), "bf-outside-"));
    writeFileSync(join(keyDir, "hv"), sshd.privateKey, { mode: 0o600 });
    writeFileSync(join(outside, "hv"), sshd.privateKey, { mode: 0o600 });
    execFileSync("mkfifo", [join(keyDir, "fifo")]);
    symlinkSync(join(outside, "hv"), join(keyDir, "escape"));
    t = await testApp({ keyDir, keyring });
  });
  afterAll(async () => {
    await t?.close();
    await sshd?.stop();
    rmSync(keyDir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it("stores a pasted key sealed: no 40-character piece of it in the database, its WAL or its shm", async () => {
    const res = await post("/api/hosts", {
      name: "hv1",
      address: sshd.host,
      port: sshd.port,
      privateKey: sshd.privateKey,
    });
    expect(res.statusCode).toBe(201);
    const { host } = res.json() as { host: Host };
    expect(host.keySource).toBe("pasted");
    const stored = createHostsRepo(t.db).get(host.id)?.privateKey ?? "";
    expect(stored.startsWith(`bfenc:v1:${keyring.keyId}:`)).toBe(true);
    expect(keyring.open(stored)).toBe(sshd.privateKey);
    expect(existsSync(`${dbFile()}-wal`)).toBe(true);
    expectNoKeyIn(dbFile(), sshd.privateKey);
  });

  it("takes what is pasted as a key, even if it looks sealed: a 400, never opened", async () => {
    const stored = createHostsRepo(t.db).getByName("hv1")?.privateKey ?? "";
    const res = await post("/api/hosts", { name: "copy", address: sshd.host, port: sshd.port, privateKey: stored });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      error: { code: "INVALID_INPUT", message: expect.stringContaining("private key") },
    });
  });

  it("keeps the database, its -wal and its -shm readable by the owner only", () => {
    for (const f of [dbFile(), `${dbFile()}-wal`, `${dbFile()}-shm`]) expect(mode(f)).toBe(0o600);
  });

  it("opens the sealed key to connect: trust, then a round trip to the real sshd", async () => {
    const id = createHostsRepo(t.db).getByName("hv1")?.id;
    const trusted = await post(`/api/hosts/${id}/trust`, { fingerprint: sshd.hostKeyFingerprint });
    expect(trusted.statusCode).toBe(200);
    const health = await t.inject({ method: "GET", url: `/api/hosts/${id}/health` });
    expect(health.json()).toMatchObject({ reachable: true, error: null });
    expectNoKeyIn(dbFile(), sshd.privateKey);
  });

  it("refuses key paths outside the key directory, escaping symlinks and FIFOs with one message (400)", async () => {
    const message = `privateKeyPath must name a regular file under ${keyDir}`;
    for (const privateKeyPath of [
      join(outside, "hv"),
      join(outside, "missing"),
      join(keyDir, "escape"),
      join(keyDir, "..", outside.split("/").pop() ?? "", "hv"),
      join(keyDir, "fifo"),
    ]) {
      const t0 = performance.now();
      const res = await post("/api/hosts", { name: "bad", address: sshd.host, port: sshd.port, privateKeyPath });
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(res.statusCode, privateKeyPath).toBe(400);
      expect(res.json()).toMatchObject({ error: { code: "INVALID_INPUT", message } });
    }
    const missing = await post("/api/hosts", {
      name: "bad",
      address: sshd.host,
      privateKeyPath: join(keyDir, "missing"),
    });
    expect(missing.json()).toMatchObject({ error: { message: `key file ${join(keyDir, "missing")} not found` } });
  });

  it("uses a key file inside the key directory, and checks it again when connecting", async () => {
    const res = await post("/api/hosts", {
      name: "hv-file",
      address: sshd.host,
      port: sshd.port,
      privateKeyPath: join(keyDir, "hv"),
    });
    expect(res.statusCode).toBe(201);
    const { host } = res.json() as { host: Host };
    expect(host).toMatchObject({ keySource: "file", privateKeyPath: join(keyDir, "hv") });

    // Swapped for a FIFO between add and trust: refused at once, and the host is not marked trusted.
    const copy = readFileSync(join(keyDir, "hv"), "utf8");
    rmSync(join(keyDir, "hv"));
    execFileSync("mkfifo", [join(keyDir, "hv")]);
    const refused = await post(`/api/hosts/${host.id}/trust`, { fingerprint: sshd.hostKeyFingerprint });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({
      error: { message: `privateKeyPath must name a regular file under ${keyDir}` },
    });
    expect((await t.inject({ method: "GET", url: `/api/hosts/${host.id}` })).json()).toMatchObject({
      status: "untrusted",
    });

    rmSync(join(keyDir, "hv"));
    writeFileSync(join(keyDir, "hv"), copy, { mode: 0o600 });
    const trusted = await post(`/api/hosts/${host.id}/trust`, { fingerprint: sshd.hostKeyFingerprint });
    expect(trusted.statusCode).toBe(200);
    const health = await t.inject({ method: "GET", url: `/api/hosts/${host.id}/health` });
    expect(health.json()).toMatchObject({ reachable: true });

    // A restart finds the trusted host's key file swapped for a FIFO: the boot is not held up, the host is
    // refused with the reason, and the other trusted host still connects.
    rmSync(join(keyDir, "hv"));
    execFileSync("mkfifo", [join(keyDir, "hv")]);
    const restarted = createRuntime(
      { dbFile: dbFile(), keyDir },
      {
        logger: pino({ level: "silent" }),
        keyring,
        createMover: () => ({ copyFull: no, copyExtents: no, verify: no }),
      },
    );
    try {
      const t0 = performance.now();
      await restarted.ready;
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(() => restarted.registry.requireTrusted(host.id)).toThrow(
        `cannot load the key of hv-file: privateKeyPath must name a regular file under ${keyDir}`,
      );
      const other = createHostsRepo(t.db).getByName("hv1")?.id ?? 0;
      expect(await restarted.registry.health(other)).toMatchObject({ reachable: true });
    } finally {
      await restarted.close();
      rmSync(join(keyDir, "hv"));
      writeFileSync(join(keyDir, "hv"), copy, { mode: 0o600 });
    }
  });
});

describe("starting the server on a data directory", () => {
  it("makes the data dir 0700, secret.key and the database 0600, and seals keys stored in the clear before", async () => {
    const sshd = await startLoopbackSshd();
    const dataDir = mkdtempSync(join(tmpdir(), "bf-start-"));
    try {
      chmodSync(dataDir, 0o755);
      const config = loadConfig(["--port", "0", "--data-dir", dataDir], { BLOCKFERRY_LOG_LEVEL: "silent" });
      // A database from before encryption: the key in the clear, the host trusted.
      const old = openDb(config.dbFile);
      createHostsRepo(old).insert({
        name: "legacy",
        address: sshd.host,
        port: sshd.port,
        privateKey: sshd.privateKey,
        status: "trusted",
        pinnedFingerprint: sshd.hostKeyFingerprint,
      });
      old.$client.close();
      expect(readFileSync(config.dbFile).toString("latin1")).toContain(keySlices(sshd.privateKey)[0]);

      const server = await startServer(config);
      try {
        expect(mode(dataDir)).toBe(0o700);
        expect(mode(join(dataDir, SECRET_KEY_FILE))).toBe(0o600);
        expect(mode(config.keyDir)).toBe(0o700);
        const row = createHostsRepo(server.runtime.db).getByName("legacy");
        expect(row?.privateKey).toMatch(/^bfenc:v1:/);
        for (const f of [config.dbFile, `${config.dbFile}-wal`, `${config.dbFile}-shm`])
          if (existsSync(f)) expect(mode(f)).toBe(0o600);
        expectNoKeyIn(config.dbFile, sshd.privateKey);
        // The host was connected at startup with the opened key.
        const health = await server.app.inject({
          method: "GET",
          url: `/api/hosts/${row?.id}/health`,
          headers: { authorization: `Bearer ${await tokenOfNewUser(server.runtime, "viewer")}` },
        });
        expect(health.json()).toMatchObject({ reachable: true });
      } finally {
        await server.close();
      }
    } finally {
      await sshd.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

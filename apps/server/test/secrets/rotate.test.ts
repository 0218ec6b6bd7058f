// `blockferry secrets rotate` against a real data directory and a real migrated SQLite file, including a
// crash at each step between the key file and the database commit.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DatabaseBusyError, openDb } from "../../src/db/open.ts";
import { createHostsRepo } from "../../src/db/repositories/hosts.ts";
import { createWebhooksRepo } from "../../src/db/repositories/webhooks.ts";
import { openKeyring, PENDING_KEY_FILE, SECRET_KEY_FILE } from "../../src/secrets/kek-file.ts";
import { createKeyring, generateKek, generateKeyring, type Keyring } from "../../src/secrets/keyring.ts";
import { resealPrivateKeys, StoredSecretError } from "../../src/secrets/reseal.ts";
import { RotateError, type RotateStep, rotateSecretKey } from "../../src/secrets/rotate.ts";

const KEYS = [
  "-----BEGIN KEY-----\nAAAA first\n-----END KEY-----\n",
  "-----BEGIN KEY-----\nBBBB second\n-----END KEY-----\n",
];

let dataDir: string;
let dbFile: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "bf-rotate-"));
  dbFile = join(dataDir, "blockferry.db");
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

/** A data dir as the server leaves it: secret.key, and hosts with sealed keys (and one with a key file). */
function seed(keyring: Keyring = openKeyring({ dataDir }).keyring): void {
  const db = openDb(dbFile);
  const hosts = createHostsRepo(db);
  KEYS.forEach((k, i) => {
    hosts.insert({ name: `h${i}`, address: "127.0.0.1", privateKey: keyring.seal(k) });
  });
  hosts.insert({ name: "by-file", address: "127.0.0.1", privateKeyPath: "/keys/id" });
  db.$client.close();
}

/** The stored values, and what they open to with the keys the server would load now. */
function stored(): { values: string[]; opened: string[] } {
  const { keyring } = openKeyring({ dataDir });
  const db = openDb(dbFile);
  try {
    const values = createHostsRepo(db)
      .list()
      .flatMap((h) => (h.privateKey ? [h.privateKey] : []));
    return { values, opened: values.map((v) => keyring.open(v)) };
  } finally {
    db.$client.close();
  }
}

const keyFile = () => readFileSync(join(dataDir, SECRET_KEY_FILE));
const rotate = (afterStep?: (s: RotateStep) => void) => rotateSecretKey({ dataDir, dbFile, afterStep });
const crashAt = (step: RotateStep) => () =>
  rotate((s) => {
    if (s === step) throw new Error(`crash after ${step}`);
  });

describe("rotate", () => {
  it("re-seals every stored key under a new secret.key, which replaces the old one (0600)", () => {
    seed();
    const before = keyFile();
    const oldId = createKeyring(before).keyId;
    const result = rotate();
    expect(result).toMatchObject({ from: "file", previousKeyId: oldId, resealed: 2, recovered: false });
    const after = keyFile();
    expect(after.equals(before)).toBe(false);
    expect(result.keyId).toBe(createKeyring(after).keyId);
    expect(statSync(join(dataDir, SECRET_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dataDir, PENDING_KEY_FILE))).toBe(false);
    const { values, opened } = stored();
    expect(opened).toEqual(KEYS);
    for (const v of values) {
      expect(v.startsWith(`bfenc:v1:${result.keyId}:`)).toBe(true);
      expect(() => createKeyring(before).open(v)).toThrow(/encrypted under another key/);
    }
  });

  it("re-seals webhook signing secrets too, so deliveries still sign after a rotation", () => {
    seed();
    const before = keyFile();
    let db = openDb(dbFile);
    const webhook = createWebhooksRepo(db).insert({
      url: "https://hooks.example.com/bf",
      events: ["migration.failed"],
      sealedSecret: createKeyring(before).seal("receiver-shared-secret"),
      createdBy: "admin",
    });
    db.$client.close();
    expect(rotate()).toMatchObject({ resealed: 3 });
    db = openDb(dbFile);
    const sealed = createWebhooksRepo(db).target(webhook.id)?.sealedSecret ?? "";
    db.$client.close();
    expect(createKeyring(keyFile()).open(sealed)).toBe("receiver-shared-secret");
    expect(() => createKeyring(before).open(sealed)).toThrow(/encrypted under another key/);
  });

  it.each(["pending-written", "db-committed"] as const)(
    "a crash after %s leaves keys on disk that open the database; the server and the next rotation recover",
    (step) => {
      seed();
      const before = keyFile();
      expect(crashAt(step)).toThrow(`crash after ${step}`);
      expect(keyFile().equals(before)).toBe(true); // secret.key is replaced only as the last step
      expect(existsSync(join(dataDir, PENDING_KEY_FILE))).toBe(true);
      expect(stored().opened).toEqual(KEYS);

      // What the server does at startup: everything back under secret.key, readable with it alone.
      const { keyring } = openKeyring({ dataDir });
      const db = openDb(dbFile);
      resealPrivateKeys(createHostsRepo(db), keyring);
      db.$client.close();
      const alone = createKeyring(before);
      expect(stored().values.map((v) => alone.open(v))).toEqual(KEYS);

      const again = rotate();
      expect(again).toMatchObject({ recovered: true, resealed: 2, previousKeyId: alone.keyId });
      expect(existsSync(join(dataDir, PENDING_KEY_FILE))).toBe(false);
      expect(stored().opened).toEqual(KEYS);
    },
  );

  it("after a crash past the commit, rotating again at once (no server start) also works", () => {
    seed();
    expect(crashAt("db-committed")).toThrow();
    const result = rotate();
    expect(result.recovered).toBe(true);
    const { values, opened } = stored();
    expect(opened).toEqual(KEYS);
    for (const v of values) expect(v.startsWith(`bfenc:v1:${result.keyId}:`)).toBe(true);
  });

  it("refuses while the database is open elsewhere (the server), and changes nothing", () => {
    seed();
    const before = keyFile();
    const server = openDb(dbFile);
    try {
      expect(() => rotate()).toThrow(DatabaseBusyError);
      expect(() => rotate()).toThrow("stop the Blockferry server first");
    } finally {
      server.$client.close();
    }
    expect(keyFile().equals(before)).toBe(true);
    expect(existsSync(join(dataDir, PENDING_KEY_FILE))).toBe(false);
  });

  it("a stored key it cannot open stops it before anything changes", () => {
    seed(generateKeyring()); // sealed under a key that is not secret.key
    openKeyring({ dataDir });
    const before = keyFile();
    expect(() => rotate()).toThrow(StoredSecretError);
    expect(() => rotate()).toThrow(/host h0 .* encrypted under another key/);
    expect(keyFile().equals(before)).toBe(true);
    expect(existsSync(join(dataDir, PENDING_KEY_FILE))).toBe(false);
  });

  it("with BLOCKFERRY_SECRET_KEY: refuses and says how, or re-seals under BLOCKFERRY_SECRET_KEY_NEW", () => {
    const envKey = generateKek();
    seed(createKeyring(envKey));
    expect(() => rotateSecretKey({ dataDir, dbFile, envKey })).toThrow(RotateError);
    expect(() => rotateSecretKey({ dataDir, dbFile, envKey })).toThrow(/BLOCKFERRY_SECRET_KEY_NEW/);
    const newEnvKey = generateKek();
    expect(() => rotateSecretKey({ dataDir, dbFile, newEnvKey })).toThrow(/only together with/);
    const result = rotateSecretKey({ dataDir, dbFile, envKey, newEnvKey });
    expect(result).toMatchObject({ from: "env", resealed: 2, keyId: createKeyring(newEnvKey).keyId });
    expect(existsSync(join(dataDir, SECRET_KEY_FILE))).toBe(false);
    const db = openDb(dbFile);
    const values = createHostsRepo(db)
      .list()
      .flatMap((h) => (h.privateKey ? [h.privateKey] : []));
    db.$client.close();
    expect(values.map((v) => createKeyring(newEnvKey).open(v))).toEqual(KEYS);
  });

  it("says so when there is nothing to rotate", () => {
    expect(() => rotate()).toThrow(/no database at/);
    openDb(dbFile).$client.close();
    expect(() => rotate()).toThrow(/no .*secret.key: nothing to rotate/);
  });
});

import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { ensurePrivateDir } from "../../src/data-dir.ts";
import {
  createKekFile,
  openKeyring,
  PENDING_KEY_FILE,
  readKekFile,
  SECRET_KEY_FILE,
  SecretKeyError,
} from "../../src/secrets/kek-file.ts";
import { createKeyring, generateKek } from "../../src/secrets/keyring.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bf-kek-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("secret.key", () => {
  it("is created on first run: 32 random bytes, mode 0600, and read back (not replaced) after", () => {
    const first = openKeyring({ dataDir: dir });
    expect(first.source).toEqual({ kind: "file", path: join(dir, SECRET_KEY_FILE), created: true, pending: null });
    const st = statSync(join(dir, SECRET_KEY_FILE));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(32);
    const bytes = readFileSync(join(dir, SECRET_KEY_FILE));
    const again = openKeyring({ dataDir: dir });
    expect(again.source).toMatchObject({ created: false });
    expect(again.keyring.keyId).toBe(first.keyring.keyId);
    expect(readFileSync(join(dir, SECRET_KEY_FILE)).equals(bytes)).toBe(true);
  });

  it("createKekFile never overwrites an existing file", () => {
    const path = join(dir, SECRET_KEY_FILE);
    const a = generateKek();
    expect(createKekFile(path, a)).toBe(true);
    expect(createKekFile(path, generateKek())).toBe(false);
    expect(readFileSync(path).equals(a)).toBe(true);
  });

  it.each([0o640, 0o604, 0o660, 0o644])("refuses to start when secret.key has mode %s", (mode) => {
    openKeyring({ dataDir: dir });
    chmodSync(join(dir, SECRET_KEY_FILE), mode);
    expect(() => openKeyring({ dataDir: dir })).toThrow(SecretKeyError);
    expect(() => openKeyring({ dataDir: dir })).toThrow(`chmod 600 ${join(dir, SECRET_KEY_FILE)}`);
  });

  it("refuses a key file of the wrong length, or one that is not a regular file, quickly", () => {
    writeFileSync(join(dir, SECRET_KEY_FILE), "c2hvcnQ=\n", { mode: 0o600 });
    expect(() => openKeyring({ dataDir: dir })).toThrow(/exactly 32 bytes, it holds 9/);
    rmSync(join(dir, SECRET_KEY_FILE));
    execFileSync("mkfifo", ["-m", "600", join(dir, SECRET_KEY_FILE)]);
    const t0 = performance.now();
    expect(() => openKeyring({ dataDir: dir })).toThrow(/not a regular file/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("also loads secret.key.new (left by an interrupted rotation) to read with, never to seal", () => {
    const { keyring } = openKeyring({ dataDir: dir });
    const pending = generateKek();
    writeFileSync(join(dir, PENDING_KEY_FILE), pending, { mode: 0o600 });
    const loaded = openKeyring({ dataDir: dir });
    expect(loaded.source).toMatchObject({ pending: join(dir, PENDING_KEY_FILE) });
    expect(loaded.keyring.keyId).toBe(keyring.keyId);
    expect(loaded.keyring.open(createKeyring(pending).seal("k"))).toBe("k");
    expect(readKekFile(join(dir, "absent"))).toBeNull();
  });

  it("BLOCKFERRY_SECRET_KEY wins over the file and is validated at boot", () => {
    const kek = generateKek();
    const config = loadConfig(["--data-dir", dir], { BLOCKFERRY_SECRET_KEY: kek.toString("base64") });
    expect(config.secretKey?.equals(kek)).toBe(true);
    const { keyring, source } = openKeyring({ dataDir: dir, envKey: config.secretKey });
    expect(source).toEqual({ kind: "env" });
    expect(keyring.keyId).toBe(createKeyring(kek).keyId);
    expect(() => readFileSync(join(dir, SECRET_KEY_FILE))).toThrow(/ENOENT/);
    for (const bad of ["", "not base64!", Buffer.alloc(16).toString("base64"), `${kek.toString("base64")}AAAA`]) {
      expect(() => loadConfig([], { BLOCKFERRY_SECRET_KEY: bad })).toThrow(ConfigError);
      expect(() => loadConfig([], { BLOCKFERRY_SECRET_KEY: bad })).toThrow("BLOCKFERRY_SECRET_KEY");
    }
    expect(loadConfig([], {}).secretKey).toBeNull();
  });

  it("--key-dir / BLOCKFERRY_KEY_DIR, default <data-dir>/keys", () => {
    expect(loadConfig(["--data-dir", dir], {}).keyDir).toBe(join(dir, "keys"));
    expect(loadConfig(["--key-dir", "/etc/bf-keys"], { BLOCKFERRY_KEY_DIR: "/x" }).keyDir).toBe("/etc/bf-keys");
    expect(loadConfig([], { BLOCKFERRY_KEY_DIR: "/x" }).keyDir).toBe("/x");
    expect(() => loadConfig(["--key-dir="], {})).toThrow(ConfigError);
  });
});

describe("data directory", () => {
  it("is created 0700, and a looser existing one is tightened (the old mode is reported)", () => {
    const fresh = join(dir, "a", "data");
    expect(ensurePrivateDir(fresh)).toBeNull();
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    chmodSync(fresh, 0o755);
    expect(ensurePrivateDir(fresh)).toBe(0o755);
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
  });
});

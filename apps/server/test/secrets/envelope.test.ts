import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  keyIdOf,
  parseEnvelope,
  SecretFormatError,
  SecretTamperedError,
  seal,
  unseal,
  WrongSecretKeyError,
} from "../../src/secrets/envelope.ts";
import { createKeyring, generateKek, generateKeyring } from "../../src/secrets/keyring.ts";

const KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----\n";

/** Replaces field `i` (0-based, of the 6) of a sealed value. */
const withField = (sealed: string, i: number, value: string) => {
  const parts = sealed.split(":");
  parts[i] = value;
  return parts.join(":");
};
/** Flips one bit of a base64 field's bytes. */
const flip = (b64: string) => {
  const b = Buffer.from(b64, "base64");
  b[0] = (b[0] ?? 0) ^ 1;
  return b.toString("base64");
};

describe("sealed values", () => {
  it("round-trips, with a fresh IV each time, in the documented format", () => {
    const kek = generateKek();
    const a = seal(kek, KEY);
    const b = seal(kek, KEY);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^bfenc:v1:[0-9a-f]{16}:[A-Za-z0-9+/]{16}:[A-Za-z0-9+/]{22}==:[A-Za-z0-9+/=]+$/);
    expect(a).not.toContain("OPENSSH");
    expect(unseal([kek], a)).toBe(KEY);
    expect(unseal([kek], b)).toBe(KEY);
    expect(unseal([kek], seal(kek, ""))).toBe("");
    expect(unseal([kek], seal(kek, "clé ✓"))).toBe("clé ✓");
    const env = parseEnvelope(a);
    expect(env).toMatchObject({ version: "v1", keyId: keyIdOf(kek) });
    expect(env.iv).toHaveLength(12);
    expect(env.tag).toHaveLength(16);
  });

  it("detects any change to the IV, tag, ciphertext or authenticated header", () => {
    const kek = generateKek();
    const sealed = seal(kek, KEY);
    const parts = sealed.split(":");
    for (const i of [3, 4, 5]) {
      const tampered = withField(sealed, i, flip(parts[i] ?? ""));
      expect(() => unseal([kek], tampered)).toThrow(SecretTamperedError);
    }
    // Truncated ciphertext
    const ct = Buffer.from(parts[5] ?? "", "base64");
    expect(() => unseal([kek], withField(sealed, 5, ct.subarray(0, ct.length - 1).toString("base64")))).toThrow(
      SecretTamperedError,
    );
    // A value moved under another key id is not opened with the real key by mistake.
    const other = generateKek();
    expect(() => unseal([kek, other], withField(sealed, 2, keyIdOf(other)))).toThrow(SecretTamperedError);
  });

  it("says clearly when a value is under another key, and never returns garbage", () => {
    const kek = generateKek();
    const other = generateKek();
    const sealed = seal(kek, KEY);
    const err = (() => {
      try {
        unseal([other], sealed);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(WrongSecretKeyError);
    expect((err as Error).message).toContain("encrypted under another key");
    expect((err as Error).message).toContain(keyIdOf(kek));
    expect((err as WrongSecretKeyError).loadedKeyIds).toEqual([keyIdOf(other)]);
    expect(unseal([other, kek], sealed)).toBe(KEY);
  });

  it.each([
    ["no prefix", KEY, /no bfenc: prefix/],
    ["an unknown version", "bfenc:v9:0123456789abcdef:a:b:c", /version "v9"/],
    ["too few fields", "bfenc:v1:0123456789abcdef:AAAA:AAAA", /6 fields, not 5/],
    ["too many fields", "bfenc:v1:0123456789abcdef:AAAA:AAAA:AAAA:AAAA", /6 fields, not 7/],
    ["a bad key id", "bfenc:v1:XYZ:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==:AAAA", /key id/],
    ["a bad base64 IV", "bfenc:v1:0123456789abcdef:AA*AAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==:AAAA", /IV is not base64/],
    ["a short IV", "bfenc:v1:0123456789abcdef:AAAA:AAAAAAAAAAAAAAAAAAAAAA==:AAAA", /IV must be 12 bytes, not 3/],
    ["a short tag", "bfenc:v1:0123456789abcdef:AAAAAAAAAAAAAAAA:AAAA:AAAA", /tag must be 16 bytes/],
    ["bad ciphertext", "bfenc:v1:0123456789abcdef:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==:A", /ciphertext/],
  ])("refuses %s with a format error that does not echo the value", (_what, value, message) => {
    expect(() => parseEnvelope(value)).toThrow(SecretFormatError);
    expect(() => parseEnvelope(value)).toThrow(message);
    try {
      parseEnvelope(value);
    } catch (err) {
      expect((err as Error).message).not.toContain("OPENSSH");
    }
  });

  it("keys must be 32 bytes", () => {
    expect(() => seal(Buffer.alloc(16), KEY)).toThrow(/32 bytes, not 16/);
    expect(() => createKeyring(Buffer.alloc(31))).toThrow(SecretFormatError);
  });
});

describe("keyring", () => {
  it("seals under its current key, opens under older ones, and says which values are current", () => {
    const old = generateKek();
    const oldRing = createKeyring(old);
    const ring = createKeyring(generateKek(), [old]);
    const underOld = oldRing.seal(KEY);
    expect(ring.open(underOld)).toBe(KEY);
    expect(ring.isCurrent(underOld)).toBe(false);
    expect(ring.isCurrent(ring.seal(KEY))).toBe(true);
    expect(ring.isCurrent(KEY)).toBe(false);
    expect(ring.keyIds).toEqual([ring.keyId, oldRing.keyId]);
    expect(() => oldRing.open(ring.seal(KEY))).toThrow(WrongSecretKeyError);
  });

  it("shows only key ids when logged or serialised", () => {
    const kek = generateKek();
    const ring = createKeyring(kek);
    for (const shown of [JSON.stringify(ring), inspect(ring), inspect({ ring }, { depth: 5 })]) {
      expect(shown).toContain(ring.keyId);
      expect(shown).not.toContain(kek.toString("base64"));
      expect(shown).not.toContain(kek.toString("hex"));
    }
  });

  it("key ids are stable per key and differ between keys", () => {
    const kek = generateKek();
    expect(createKeyring(kek).keyId).toBe(keyIdOf(Buffer.from(kek)));
    expect(generateKeyring().keyId).not.toBe(createKeyring(kek).keyId);
  });
});

// Sealing a secret under a key-encryption key (KEK): AES-256-GCM, a fresh 12-byte IV per value, and a
// self-describing text form that names the key it was sealed under, so a wrong key is a clear error.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { DomainError } from "../errors.ts";

export const KEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const ENVELOPE_PREFIX = "bfenc:";
const VERSION = "v1";

/** The sealed value could not be read: not an envelope, a version we do not know, or damaged fields. */
export class SecretFormatError extends DomainError {
  constructor(message: string) {
    super("SECRET_FORMAT", message);
  }
}

/** The value was sealed under another KEK than the ones loaded. */
export class WrongSecretKeyError extends DomainError {
  constructor(
    readonly sealedKeyId: string,
    readonly loadedKeyIds: readonly string[],
  ) {
    super(
      "SECRET_WRONG_KEY",
      `secret is encrypted under another key (key id ${sealedKeyId}; loaded: ${loadedKeyIds.join(", ")}): ` +
        "restore the secret.key (or BLOCKFERRY_SECRET_KEY) that belongs to this database",
    );
  }
}

/** The key matched but the ciphertext, IV, tag or header was altered. */
export class SecretTamperedError extends DomainError {
  constructor(keyId: string) {
    super("SECRET_TAMPERED", `secret under key id ${keyId} failed authentication: it was altered or damaged`);
  }
}

export type Envelope = { version: "v1"; keyId: string; iv: Buffer; tag: Buffer; ciphertext: Buffer };

/** A short public fingerprint of a KEK: HMAC-SHA256 of a fixed label, 16 hex digits. Reveals nothing of the key. */
export function keyIdOf(kek: Buffer): string {
  assertKek(kek);
  return createHmac("sha256", kek).update("blockferry kek id v1").digest("hex").slice(0, 16);
}

export function assertKek(kek: Buffer): void {
  if (kek.length !== KEK_BYTES) throw new SecretFormatError(`a key must be ${KEK_BYTES} bytes, not ${kek.length}`);
}

export const isSealed = (value: string): boolean => value.startsWith(ENVELOPE_PREFIX);

/** The authenticated header: changing the version or key id makes decryption fail. */
const headerOf = (keyId: string) => `${ENVELOPE_PREFIX}${VERSION}:${keyId}`;

export function seal(kek: Buffer, plaintext: string): string {
  const keyId = keyIdOf(kek);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", kek, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(headerOf(keyId)));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [headerOf(keyId), iv.toString("base64"), tag.toString("base64"), ciphertext.toString("base64")].join(":");
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (canonical, padded): Buffer.from(x, "base64") would silently skip garbage. */
export function decodeBase64(text: string, what: string): Buffer {
  if (!B64.test(text)) throw new SecretFormatError(`${what} is not base64`);
  return Buffer.from(text, "base64");
}

/** Parses `bfenc:v1:<keyId>:<iv>:<tag>:<ciphertext>`; never echoes the value (it may be a plaintext key). */
export function parseEnvelope(value: string): Envelope {
  if (!isSealed(value)) throw new SecretFormatError("not an encrypted value (no bfenc: prefix)");
  const parts = value.split(":");
  const version = parts[1];
  if (version !== VERSION) throw new SecretFormatError(`unknown encryption format version "${version ?? ""}"`);
  if (parts.length !== 6) throw new SecretFormatError(`a ${VERSION} encrypted value has 6 fields, not ${parts.length}`);
  const [, , keyId = "", ivText = "", tagText = "", ctText = ""] = parts;
  if (!/^[0-9a-f]{16}$/.test(keyId)) throw new SecretFormatError("the key id is not 16 hex digits");
  const iv = decodeBase64(ivText, "the IV");
  const tag = decodeBase64(tagText, "the tag");
  const ciphertext = decodeBase64(ctText, "the ciphertext");
  if (iv.length !== IV_BYTES) throw new SecretFormatError(`the IV must be ${IV_BYTES} bytes, not ${iv.length}`);
  if (tag.length !== TAG_BYTES) throw new SecretFormatError(`the tag must be ${TAG_BYTES} bytes, not ${tag.length}`);
  return { version: VERSION, keyId, iv, tag, ciphertext };
}

/** Opens a sealed value with the first of `keks` it was sealed under. */
export function unseal(keks: readonly Buffer[], value: string): string {
  const env = parseEnvelope(value);
  const kek = keks.find((k) => keyIdOf(k) === env.keyId);
  if (!kek) throw new WrongSecretKeyError(env.keyId, keks.map(keyIdOf));
  const decipher = createDecipheriv("aes-256-gcm", kek, env.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(headerOf(env.keyId)));
  decipher.setAuthTag(env.tag);
  try {
    return Buffer.concat([decipher.update(env.ciphertext), decipher.final()]).toString("utf8");
  } catch {
    throw new SecretTamperedError(env.keyId);
  }
}

/** The key id a sealed value names, or null for plaintext. */
export const sealedKeyId = (value: string): string | null => (isSealed(value) ? parseEnvelope(value).keyId : null);

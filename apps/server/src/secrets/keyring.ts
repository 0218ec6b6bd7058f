import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { assertKek, isSealed, KEK_BYTES, keyIdOf, seal, sealedKeyId, unseal } from "./envelope.ts";

/**
 * The keys this process holds: one current KEK that seals, and older ones that may still open values (the
 * key of an interrupted rotation). Key bytes stay in this closure: logging or JSON shows only the key ids.
 */
export interface Keyring {
  readonly keyId: string;
  readonly keyIds: readonly string[];
  seal(plaintext: string): string;
  /** Opens a sealed value; a wrong key, damage or a bad format is a typed error, never garbage. */
  open(sealed: string): string;
  /** Sealed under the current key (plaintext and values under older keys are not). */
  isCurrent(value: string): boolean;
}

export const generateKek = (): Buffer => randomBytes(KEK_BYTES);

export function createKeyring(current: Buffer, older: readonly Buffer[] = []): Keyring {
  assertKek(current);
  for (const k of older) assertKek(k);
  const keks = [Buffer.from(current), ...older.map((k) => Buffer.from(k))];
  const keyId = keyIdOf(current);
  const keyIds = [...new Set(keks.map(keyIdOf))];
  const describe = () => ({ keyId, keyIds });
  return {
    keyId,
    keyIds,
    seal: (plaintext) => seal(current, plaintext),
    open: (sealed) => unseal(keks, sealed),
    isCurrent: (value) => isSealed(value) && sealedKeyId(value) === keyId,
    toJSON: describe,
    [inspect.custom]: () => `Keyring ${JSON.stringify(describe())}`,
  } as Keyring;
}

/** A keyring with a fresh random key: for tests and first runs. */
export const generateKeyring = (): Keyring => createKeyring(generateKek());

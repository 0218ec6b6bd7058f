export {
  isSealed,
  KEK_BYTES,
  keyIdOf,
  parseEnvelope,
  SecretFormatError,
  SecretTamperedError,
  seal,
  unseal,
  WrongSecretKeyError,
} from "./envelope.ts";
export {
  createKekFile,
  decodeKek,
  type KeySource,
  openKeyring,
  PENDING_KEY_FILE,
  readKekFile,
  SECRET_KEY_ENV,
  SECRET_KEY_FILE,
  SecretKeyError,
} from "./kek-file.ts";
export { createKeyring, generateKek, generateKeyring, type Keyring } from "./keyring.ts";
export { resealPrivateKeys, StoredSecretError } from "./reseal.ts";
export { NEW_SECRET_KEY_ENV, RotateError, type RotateResult, rotateSecretKey } from "./rotate.ts";

import type { HostsRepo } from "../db/repositories/hosts.ts";
import { DomainError, messageOf } from "../errors.ts";
import { isSealed } from "./envelope.ts";
import type { Keyring } from "./keyring.ts";

/** A stored secret could not be opened while re-sealing; nothing was changed (one transaction). */
export class StoredSecretError extends DomainError {
  constructor(hostName: string, cause: unknown) {
    super("STORED_SECRET", `the stored key of host ${hostName} cannot be opened: ${messageOf(cause)}`);
  }
}

/**
 * Seals every stored pasted key under `sealer`'s current key, opening old ones with `opener`: plaintext rows
 * from before encryption existed, rows under an older key, or (rotation) all rows under a new key. One
 * transaction; a value that cannot be opened aborts it with the host's name. Returns how many rows changed.
 */
export function resealPrivateKeys(
  hosts: Pick<HostsRepo, "rewritePrivateKeys">,
  opener: Keyring,
  sealer: Keyring = opener,
): number {
  return hosts.rewritePrivateKeys((stored, row) => {
    if (sealer.isCurrent(stored)) return null;
    let plaintext: string;
    try {
      plaintext = isSealed(stored) ? opener.open(stored) : stored;
    } catch (err) {
      throw new StoredSecretError(row.name, err);
    }
    return sealer.seal(plaintext);
  });
}

import type { HostsRepo } from "../db/repositories/hosts.ts";
import type { WebhooksRepo } from "../db/repositories/webhooks.ts";
import { DomainError, messageOf } from "../errors.ts";
import { isSealed } from "./envelope.ts";
import type { Keyring } from "./keyring.ts";

/** A stored secret could not be opened while re-sealing; nothing was changed (one transaction). */
export class StoredSecretError extends DomainError {
  constructor(hostName: string, cause: unknown, what = `the stored key of host ${hostName}`) {
    super("STORED_SECRET", `${what} cannot be opened: ${messageOf(cause)}`);
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

/**
 * The same for webhook signing secrets (always sealed). Run right after resealPrivateKeys, wherever it runs:
 * a crash between the two leaves values under two keys the server loads both of, and the next start or
 * rotation finishes the job.
 */
export function resealWebhookSecrets(
  webhooks: Pick<WebhooksRepo, "rewriteSecrets">,
  opener: Keyring,
  sealer: Keyring = opener,
): number {
  return webhooks.rewriteSecrets((stored, row) => {
    if (sealer.isCurrent(stored)) return null;
    try {
      return sealer.seal(opener.open(stored));
    } catch (err) {
      throw new StoredSecretError(String(row.id), err, `the secret of webhook ${row.id} (${row.url})`);
    }
  });
}

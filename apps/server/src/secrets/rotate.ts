// `blockferry secrets rotate`: offline, re-seals every stored secret under a fresh KEK.
//
// The database commit and the key file cannot change in one atomic step, so the order is chosen so that at
// every instant some key on disk opens the database:
//   1. write the new key to secret.key.new (temp file 0600, fsync, rename, fsync the folder);
//   2. re-seal every secret under it in ONE transaction, fully synced (old key before the commit, new after);
//   3. rename secret.key.new over secret.key (atomic), fsync the folder.
// A crash after 1 leaves a spare key file; after 2, the database is under the key in secret.key.new. The server
// therefore loads secret.key.new as well (read-only) and, at startup, re-seals anything under it back under
// secret.key. The next rotate does the same first (then deletes the leftover) before starting afresh.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openDbExclusive } from "../db/open.ts";
import { createHostsRepo } from "../db/repositories/hosts.ts";
import { createWebhooksRepo } from "../db/repositories/webhooks.ts";
import {
  moveKekFile,
  PENDING_KEY_FILE,
  readKekFile,
  removeKekFile,
  replaceKekFile,
  SECRET_KEY_ENV,
  SECRET_KEY_FILE,
} from "./kek-file.ts";
import { createKeyring, generateKek } from "./keyring.ts";
import { resealPrivateKeys, resealWebhookSecrets } from "./reseal.ts";

export const NEW_SECRET_KEY_ENV = `${SECRET_KEY_ENV}_NEW`;

/** Rotation refused or impossible; nothing was changed. */
export class RotateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RotateError";
  }
}

export type RotateResult = {
  from: "file" | "env";
  previousKeyId: string;
  keyId: string;
  /** Stored secrets re-sealed under the new key. */
  resealed: number;
  /** An interrupted earlier rotation was rolled back first. */
  recovered: boolean;
};

/** Test seam: throw at a named step to check that every crash point leaves a usable key. */
export type RotateStep = "pending-written" | "db-committed";

export function rotateSecretKey(opts: {
  dataDir: string;
  dbFile: string;
  /** BLOCKFERRY_SECRET_KEY, decoded: then the key is not ours to replace. */
  envKey?: Buffer | null;
  /** BLOCKFERRY_SECRET_KEY_NEW, decoded: re-seal under it (env keys only). */
  newEnvKey?: Buffer | null;
  afterStep?: (step: RotateStep) => void;
}): RotateResult {
  if (opts.envKey && !opts.newEnvKey)
    throw new RotateError(
      `the key comes from ${SECRET_KEY_ENV}, so there is no secret.key to replace. To rotate it: set ` +
        `${NEW_SECRET_KEY_ENV} to a new key (openssl rand -base64 32) beside ${SECRET_KEY_ENV}, run ` +
        `\`blockferry secrets rotate\` again, then start the server with ${SECRET_KEY_ENV} set to the new value`,
    );
  if (!opts.envKey && opts.newEnvKey)
    throw new RotateError(`${NEW_SECRET_KEY_ENV} is used only together with ${SECRET_KEY_ENV}`);
  if (!existsSync(opts.dbFile)) throw new RotateError(`no database at ${opts.dbFile}: nothing to rotate`);

  const db = openDbExclusive(opts.dbFile);
  try {
    const hosts = createHostsRepo(db);
    const webhooks = createWebhooksRepo(db);
    const resealAll = (opener: ReturnType<typeof createKeyring>, sealer?: ReturnType<typeof createKeyring>) =>
      resealPrivateKeys(hosts, opener, sealer) + resealWebhookSecrets(webhooks, opener, sealer);
    if (opts.envKey && opts.newEnvKey) {
      const from = createKeyring(opts.envKey);
      const to = createKeyring(opts.newEnvKey);
      const resealed = resealAll(from, to);
      return { from: "env", previousKeyId: from.keyId, keyId: to.keyId, resealed, recovered: false };
    }

    const keyPath = join(opts.dataDir, SECRET_KEY_FILE);
    const pendingPath = join(opts.dataDir, PENDING_KEY_FILE);
    const current = readKekFile(keyPath);
    if (!current) throw new RotateError(`no ${keyPath}: nothing to rotate (the server creates it on its first start)`);
    const leftover = readKekFile(pendingPath);
    if (leftover) {
      // An earlier rotation stopped between its steps: everything back under secret.key, then drop the leftover.
      resealAll(createKeyring(current, [leftover]));
      removeKekFile(pendingPath);
    }

    const from = createKeyring(current);
    const next = generateKek();
    const to = createKeyring(next);
    replaceKekFile(pendingPath, next);
    opts.afterStep?.("pending-written");
    let resealed: number;
    try {
      resealed = resealAll(from, to);
    } catch (err) {
      removeKekFile(pendingPath); // nothing was committed: the new key is of no use
      throw err;
    }
    opts.afterStep?.("db-committed");
    moveKekFile(pendingPath, keyPath);
    return { from: "file", previousKeyId: from.keyId, keyId: to.keyId, resealed, recovered: leftover !== null };
  } finally {
    db.$client.close();
  }
}

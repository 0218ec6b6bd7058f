import { parseArgs } from "node:util";
import {
  ConfigError,
  DatabaseBusyError,
  decodeKek,
  loadConfig,
  NEW_SECRET_KEY_ENV,
  RotateError,
  rotateSecretKey,
  SecretKeyError,
  StoredSecretError,
} from "@blockferry/server";

const USAGE = `usage:
  blockferry secrets rotate [--data-dir DIR]
      Offline (stop the server first): make a new secret.key and re-encrypt every stored private key under it.
      With BLOCKFERRY_SECRET_KEY set, give the new key as ${NEW_SECRET_KEY_ENV} instead.
`;

/** `blockferry secrets rotate --data-dir DIR` */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let dataDirFlag: string | undefined;
  try {
    const { positionals, values } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { "data-dir": { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (positionals.length !== 1 || positionals[0] !== "rotate") throw new Error("expected: secrets rotate");
    dataDirFlag = values["data-dir"];
  } catch (err) {
    process.stderr.write(`blockferry secrets: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const config = loadConfig(dataDirFlag === undefined ? [] : ["--data-dir", dataDirFlag], env);
    const newText = env[NEW_SECRET_KEY_ENV];
    const result = rotateSecretKey({
      dataDir: config.dataDir,
      dbFile: config.dbFile,
      envKey: config.secretKey,
      newEnvKey: newText === undefined ? null : decodeKek(newText, NEW_SECRET_KEY_ENV),
    });
    if (result.recovered) process.stdout.write("an interrupted rotation was found and rolled back before this one\n");
    process.stdout.write(
      `re-encrypted ${result.resealed} stored key(s) under key ${result.keyId} (was ${result.previousKeyId})\n` +
        (result.from === "file"
          ? `${config.dataDir}/secret.key replaced: back it up together with the database\n`
          : `now start the server with BLOCKFERRY_SECRET_KEY set to the value of ${NEW_SECRET_KEY_ENV}\n`),
    );
    return 0;
  } catch (err) {
    if (
      err instanceof RotateError ||
      err instanceof SecretKeyError ||
      err instanceof ConfigError ||
      err instanceof DatabaseBusyError ||
      err instanceof StoredSecretError
    ) {
      process.stderr.write(`blockferry secrets rotate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

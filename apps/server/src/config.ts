import { join, resolve } from "node:path";
import { installRoot } from "./paths.ts";
import { decodeKek, SECRET_KEY_ENV, SecretKeyError } from "./secrets/kek-file.ts";

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  dbFile: string;
  /** `privateKeyPath` must name a regular file under this folder (default `<dataDir>/keys`). */
  keyDir: string;
  /**
   * The key-encryption key from BLOCKFERRY_SECRET_KEY (environment only: a flag would show in `ps`), or null to
   * use `<dataDir>/secret.key`. Key material: never log it.
   */
  secretKey: Buffer | null;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Built dashboard to serve; absent when not built (the API still runs). */
  webDir: string;
  /** The URL users reach the dashboard under, when not a loopback one (its host joins the Host allow-list). */
  publicUrl?: string;
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`invalid configuration: ${setting}: ${message}`);
    this.name = "ConfigError";
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Flag name -> environment variable. Flags win over the environment. */
const SETTINGS = {
  port: "BLOCKFERRY_PORT",
  host: "BLOCKFERRY_HOST",
  "data-dir": "BLOCKFERRY_DATA_DIR",
  "log-level": "BLOCKFERRY_LOG_LEVEL",
  "web-dir": "BLOCKFERRY_WEB_DIR",
  "public-url": "BLOCKFERRY_PUBLIC_URL",
  "key-dir": "BLOCKFERRY_KEY_DIR",
} as const;
type Setting = keyof typeof SETTINGS;

export const DEFAULT_PORT = 7878;

/** Parses `--name value` / `--name=value` flags for the known settings; anything else is an error. */
function parseFlags(argv: readonly string[]): Partial<Record<Setting, string>> {
  const out: Partial<Record<Setting, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const name = m?.[1];
    if (!m || !name || !(name in SETTINGS)) throw new ConfigError(arg, "unknown option");
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new ConfigError(`--${name}`, "needs a value");
    out[name as Setting] = value;
  }
  return out;
}

/** Validates configuration once, at boot. A bad value stops the boot with a message naming the setting. */
export function loadConfig(argv: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): Config {
  const flags = parseFlags(argv);
  const raw = (s: Setting): { value: string | undefined; name: string } =>
    flags[s] !== undefined ? { value: flags[s], name: `--${s}` } : { value: env[SETTINGS[s]], name: SETTINGS[s] };

  const port = raw("port");
  let portNumber = DEFAULT_PORT;
  if (port.value !== undefined) {
    if (!/^\d+$/.test(port.value) || Number(port.value) > 65535)
      throw new ConfigError(port.name, `"${port.value}" is not a port number (0-65535)`);
    portNumber = Number(port.value);
  }

  const host = raw("host");
  const hostValue = host.value ?? "127.0.0.1";
  if (!/^[A-Za-z0-9.:-]+$/.test(hostValue)) throw new ConfigError(host.name, `"${hostValue}" is not an address`);

  const logLevel = raw("log-level");
  const level = LOG_LEVELS.find((l) => l === (logLevel.value ?? "info"));
  if (!level) throw new ConfigError(logLevel.name, `"${logLevel.value}" is not one of ${LOG_LEVELS.join(", ")}`);

  const dataDir = raw("data-dir");
  if (dataDir.value === "") throw new ConfigError(dataDir.name, "must not be empty");
  const dir = resolve(dataDir.value ?? ".data");

  const keyDir = raw("key-dir");
  if (keyDir.value === "") throw new ConfigError(keyDir.name, "must not be empty");

  let secretKey: Buffer | null = null;
  const secretKeyText = env[SECRET_KEY_ENV];
  if (secretKeyText !== undefined) {
    try {
      secretKey = decodeKek(secretKeyText, SECRET_KEY_ENV);
    } catch (err) {
      if (err instanceof SecretKeyError) throw new ConfigError(SECRET_KEY_ENV, err.message);
      throw err;
    }
  }

  const webDir = raw("web-dir");
  const publicUrl = raw("public-url");
  if (publicUrl.value !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(publicUrl.value);
    } catch {}
    if (!url || !["http:", "https:"].includes(url.protocol) || url.pathname !== "/" || url.search || url.username)
      throw new ConfigError(
        publicUrl.name,
        `"${publicUrl.value}" is not an http(s) origin like https://bf.example.com`,
      );
  }
  return {
    port: portNumber,
    host: hostValue,
    dataDir: dir,
    dbFile: resolve(dir, "blockferry.db"),
    keyDir: resolve(keyDir.value ?? join(dir, "keys")),
    secretKey,
    logLevel: level,
    webDir: resolve(webDir.value ?? join(installRoot(), "apps/web/dist")),
    ...(publicUrl.value !== undefined && { publicUrl: new URL(publicUrl.value).origin }),
  };
}

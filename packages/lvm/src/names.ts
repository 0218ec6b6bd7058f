import { InvalidValueError } from "./errors.ts";

// Branded strings: a command template only takes values that went through a validator.
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };
export type VgName = Brand<string, "VgName">;
export type LvName = Brand<string, "LvName">;
export type LvmTag = Brand<string, "LvmTag">;

/** lvm(8): NAME_LEN is 128 including the terminating NUL. */
export const LVM_NAME_MAX = 127;
/** lvm-string.c validate_tag: 1024 in LVM >= 2.02.141, 128 before; we keep the older, stricter limit. */
export const LVM_TAG_MAX = 128;

const NAME_CHARS = /^[A-Za-z0-9+_.-]+$/;
// LVM also allows ! & # in tags; we refuse those shell metacharacters (defence in depth: they are quoted anyway).
const TAG_CHARS = /^[A-Za-z0-9+_.\-/=:]+$/;

export const LV_RESERVED_PREFIXES = ["snapshot", "pvmove"] as const;
export const LV_RESERVED_SUBSTRINGS = [
  "_cdata",
  "_cmeta",
  "_corig",
  "_cpool",
  "_cvol",
  "_imeta",
  "_iorig",
  "_mimage",
  "_mlog",
  "_pmspare",
  "_rimage",
  "_rmeta",
  "_tdata",
  "_tmeta",
  "_vdata",
  "_vorigin",
  "_wcorig",
] as const;

/** The rules lvm-string.c `_validate_name` applies to VG and LV names alike. */
function checkCommonName(kind: string, value: string): void {
  if (value.length === 0) throw new InvalidValueError(kind, "empty", value, "must not be empty");
  if (value.length > LVM_NAME_MAX)
    throw new InvalidValueError(kind, "too-long", value, `${value.length} characters, at most ${LVM_NAME_MAX}`);
  if (!NAME_CHARS.test(value)) {
    const bad = [...value].find((c) => !NAME_CHARS.test(c)) ?? "";
    throw new InvalidValueError(
      kind,
      "bad-character",
      value,
      `character ${JSON.stringify(bad)} not allowed (only a-z A-Z 0-9 + _ . -)`,
    );
  }
  if (value.startsWith("-")) throw new InvalidValueError(kind, "leading-hyphen", value, "must not start with '-'");
  if (value === "." || value === "..")
    throw new InvalidValueError(kind, "dot-name", value, "'.' and '..' are reserved");
}

export function validateVgName(value: string): VgName {
  checkCommonName("volume group name", value);
  return value as VgName;
}

export function validateLvName(value: string): LvName {
  const kind = "logical volume name";
  checkCommonName(kind, value);
  for (const prefix of LV_RESERVED_PREFIXES) {
    if (value.startsWith(prefix))
      throw new InvalidValueError(kind, "reserved-prefix", value, `must not start with '${prefix}' (reserved by LVM)`);
  }
  for (const part of LV_RESERVED_SUBSTRINGS) {
    if (value.includes(part))
      throw new InvalidValueError(kind, "reserved-substring", value, `must not contain '${part}' (reserved by LVM)`);
  }
  return value as LvName;
}

export function validateTag(value: string): LvmTag {
  const kind = "LVM tag";
  if (value.length === 0) throw new InvalidValueError(kind, "empty", value, "must not be empty");
  if (value.length > LVM_TAG_MAX)
    throw new InvalidValueError(kind, "too-long", value, `${value.length} characters, at most ${LVM_TAG_MAX}`);
  if (!TAG_CHARS.test(value))
    throw new InvalidValueError(kind, "bad-character", value, "only a-z A-Z 0-9 + _ . - / = : allowed");
  // A leading '-' would read as an option on the lvchange command line; '@' is not in the set at all.
  if (value.startsWith("-")) throw new InvalidValueError(kind, "leading-hyphen", value, "must not start with '-'");
  return value as LvmTag;
}

export function isValidVgName(value: string): value is VgName {
  return tryValidate(() => validateVgName(value));
}
export function isValidLvName(value: string): value is LvName {
  return tryValidate(() => validateLvName(value));
}
function tryValidate(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (err) {
    if (err instanceof InvalidValueError) return false;
    throw err;
  }
}

/** Every LV, snapshot and pool Blockferry creates carries this tag, so it can find (and only ever remove) its own. */
export const BLOCKFERRY_TAG = "blockferry" as LvmTag;

/** `bf-job-<id>`: ties an LV to the job that created it. */
export function jobTag(jobId: string | number): LvmTag {
  return validateTag(`bf-job-${jobId}`);
}

const MIGRATED_AWAY_PREFIX = "blockferry_migrated_";

/**
 * `blockferry_migrated_<id>`: put on a source LV once job <id> moved it away, so the inventory (and an operator
 * running `lvs -o +lv_tags`) can tell the kept copy from a live disk; decommission removes only an LV carrying it.
 * Deliberately not `blockferry`: that tag marks LVs we created, which clean-up may drop.
 */
export function migratedAwayTag(jobId: number): LvmTag {
  if (!Number.isSafeInteger(jobId) || jobId < 1)
    throw new InvalidValueError("job id", "bad-character", String(jobId), "must be a positive integer");
  return validateTag(`${MIGRATED_AWAY_PREFIX}${jobId}`);
}

/** The job a `blockferry_migrated_<id>` tag names, or null for any other tag. */
export function migratedAwayJobId(tag: string): number | null {
  if (!tag.startsWith(MIGRATED_AWAY_PREFIX)) return null;
  const rest = tag.slice(MIGRATED_AWAY_PREFIX.length);
  if (!/^[1-9]\d{0,15}$/.test(rest)) return null;
  const id = Number(rest);
  return Number.isSafeInteger(id) ? id : null;
}

import { InvalidValueError } from "./errors.ts";
import type { LvName, VgName } from "./names.ts";

declare const brand: unique symbol;
/** An absolute path made only of safe segments; `DevicePath` additionally lives under /dev. */
export type RemotePath = string & { readonly [brand]: "RemotePath" };
export type DevicePath = RemotePath & { readonly deviceBrand: true };

export const REMOTE_PATH_MAX = 4096;
const SEGMENT = /^[A-Za-z0-9+_.:@-]+$/;

/**
 * An absolute path whose every segment uses only `A-Z a-z 0-9 + _ . : @ -`, does not start with '-'
 * and is not '.' or '..'. Files standing in for LVs (loopback tests, benches) go through this.
 */
export function validateRemotePath(value: string, kind = "remote path"): RemotePath {
  if (value.length === 0) throw new InvalidValueError(kind, "empty", value, "must not be empty");
  if (value.length > REMOTE_PATH_MAX)
    throw new InvalidValueError(kind, "too-long", value, `${value.length} characters, at most ${REMOTE_PATH_MAX}`);
  if (!value.startsWith("/")) throw new InvalidValueError(kind, "not-absolute", value, "must start with '/'");
  const segments = value.slice(1).split("/");
  for (const seg of segments) {
    if (seg === "") throw new InvalidValueError(kind, "bad-segment", value, "empty segment ('//' or trailing '/')");
    if (seg === "." || seg === "..")
      throw new InvalidValueError(kind, "dot-name", value, "'.' and '..' segments are not allowed");
    if (!SEGMENT.test(seg)) {
      const bad = [...seg].find((c) => !SEGMENT.test(c)) ?? "";
      throw new InvalidValueError(kind, "bad-character", value, `character ${JSON.stringify(bad)} not allowed`);
    }
    if (seg.startsWith("-"))
      throw new InvalidValueError(kind, "leading-hyphen", value, "a segment must not start with '-'");
  }
  return value as RemotePath;
}

/** A block device path under /dev (`/dev/VG/LV`, `/dev/mapper/NAME`, `/dev/vdb`, ...). */
export function validateDevicePath(value: string): DevicePath {
  const path = validateRemotePath(value, "device path");
  if (!path.startsWith("/dev/") || path.length <= 5)
    throw new InvalidValueError("device path", "not-a-device-path", value, "must be under /dev/");
  return path as DevicePath;
}

/** The device-mapper name of VG/LV: a '-' inside either name is doubled, then the two are joined with '-'. */
export function dmName(vg: VgName, lv: LvName | string): string {
  const dbl = (s: string) => s.replaceAll("-", "--");
  return `${dbl(vg)}-${dbl(lv)}`;
}

/** `/dev/VG/LV` for validated names. */
export function lvDevicePath(vg: VgName, lv: LvName): DevicePath {
  return `/dev/${vg}/${lv}` as DevicePath;
}

/** `/dev/mapper/<dm name of VG/LV><suffix>`, e.g. suffix `-cow`, `-real`, `_tmeta`, `-tpool`. */
export function dmDevicePath(vg: VgName, lv: LvName, suffix = ""): DevicePath {
  return validateDevicePath(`/dev/mapper/${dmName(vg, lv)}${suffix}`);
}

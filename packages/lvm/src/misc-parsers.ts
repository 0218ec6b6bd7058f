import { ParseError } from "./errors.ts";

/** `virsh list --all --name`: one name per line, blank lines ignored. */
export function parseVirshList(output: string): string[] {
  return output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

export type DomainDisk = { type: string; device: string; target: string; source: string | null };

/**
 * A CD-ROM or floppy drive: its media are never migrated (the VM can do without them, or the target needs the image
 * at the same path), so it never keeps a VM from moving.
 */
export const isRemovableDrive = (device: string) => device === "cdrom" || device === "floppy";

/** `virsh domblklist --details DOMAIN`: header, dashes, then `Type Device Target Source` rows. */
export function parseDomblklist(output: string): DomainDisk[] {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  const dash = lines.findIndex((l) => /^-+$/.test(l));
  if (dash < 0) throw new ParseError("virsh domblklist", "no header separator");
  return lines.slice(dash + 1).map((l) => {
    const [type = "", device = "", target = "", ...source] = l.split(/\s+/);
    const src = source.join(" ");
    return { type, device, target, source: src === "" || src === "-" ? null : src };
  });
}

/** First `x.y[.z]` in a tool's version banner, or null. */
export function parseToolVersion(output: string): string | null {
  return output.match(/\d+\.\d+(?:\.\d+)?/)?.[0] ?? null;
}

/** `blockdev --getsize64`: one integer. */
export function parseSizeOutput(output: string): number {
  const v = output.trim();
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new ParseError("size", JSON.stringify(v));
  return n;
}

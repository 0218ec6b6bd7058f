// packages/lvm's naming rules at the API: a name that prechecks, lvcreate or virsh would refuse later is a 400
// now, naming the field. The body schema's patterns only know the character set, not `..` or `snapshot*`.
import type { CreateMigrationBody } from "@blockferry/contracts";
import { InvalidValueError, validateDomainName, validateLvName, validateVgName } from "@blockferry/lvm";
import { InvalidInputError } from "../../errors.ts";

/** Throws InvalidInputError (400) for the first name in a migration body that packages/lvm refuses. */
export function checkMigrationNames(body: CreateMigrationBody): void {
  type Field = [string, string | undefined, (value: string) => unknown];
  const disk = (
    at: string,
    d: { source: { vg: string; lv: string }; target: Partial<Record<"vg" | "lv" | "thinPool", string>> },
  ): Field[] => [
    [`${at}source/vg`, d.source.vg, validateVgName],
    [`${at}source/lv`, d.source.lv, validateLvName],
    [`${at}target/vg`, d.target.vg, validateVgName],
    [`${at}target/lv`, d.target.lv, validateLvName],
    [`${at}target/thinPool`, d.target.thinPool, validateLvName],
  ];
  const fields: Field[] = [
    ...(body.disks
      ? body.disks.flatMap((d, i) => disk(`disks/${i}/`, d))
      : body.source && body.target
        ? disk("", { source: body.source, target: body.target })
        : []),
    ["vm/domain", body.vm.controller === "libvirt" ? body.vm.domain : undefined, validateDomainName],
  ];
  for (const [field, value, validate] of fields) {
    if (value === undefined) continue;
    try {
      validate(value);
    } catch (err) {
      if (!(err instanceof InvalidValueError)) throw err;
      // The same shape as a schema failure: a message starting with the field, ajv-like details.
      throw new InvalidInputError(`body/${field} ${err.message}`, [
        { instancePath: `/${field}`, keyword: err.reason, message: err.message },
      ]);
    }
  }
}

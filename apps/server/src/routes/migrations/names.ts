// packages/lvm's naming rules at the API: a name that prechecks, lvcreate or virsh would refuse later is a 400
// now, naming the field. The body schema's patterns only know the character set, not `..` or `snapshot*`.
import type { CreateMigration } from "@blockferry/contracts";
import { InvalidValueError, validateDomainName, validateLvName, validateVgName } from "@blockferry/lvm";
import { InvalidInputError } from "../../errors.ts";

/** Throws InvalidInputError (400) for the first name in a migration body that packages/lvm refuses. */
export function checkMigrationNames(body: CreateMigration): void {
  const fields: Array<[string, string | undefined, (value: string) => unknown]> = [
    ["source/vg", body.source.vg, validateVgName],
    ["source/lv", body.source.lv, validateLvName],
    ["target/vg", body.target.vg, validateVgName],
    ["target/lv", body.target.lv, validateLvName],
    ["target/thinPool", body.target.thinPool, validateLvName],
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

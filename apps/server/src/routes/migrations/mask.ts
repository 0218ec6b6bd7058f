import type { Migration, Role } from "@blockferry/contracts";

/** What a viewer sees instead of an operator's VM commands (they may carry credentials). */
export const HIDDEN_COMMAND = "(hidden: operators and admins only)";

/** The migration as `role` may see it: viewers get the commands controller's command lines masked. */
export function maskForRole(m: Migration, role: Role | undefined): Migration {
  if (role !== "viewer" || m.vm.controller !== "commands") return m;
  const { stopSource, startSource, startTarget, status, ...rest } = m.vm;
  return {
    ...m,
    vm: {
      ...rest,
      stopSource: HIDDEN_COMMAND,
      startTarget: HIDDEN_COMMAND,
      ...(startSource !== undefined && { startSource: HIDDEN_COMMAND }),
      ...(status !== undefined && { status: HIDDEN_COMMAND }),
    },
  };
}

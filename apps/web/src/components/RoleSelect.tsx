import { ROLES, type Role } from "@blockferry/contracts";

export const ROLE_HELP: Record<Role, string> = {
  viewer: "reads everything, changes nothing",
  operator: "also runs prechecks and starts, cuts over, cancels and retries migrations",
  admin: "also manages hosts, users, API tokens and reads the audit log",
};

/** A role picker; `label` names it when it does not sit inside a <label> (e.g. in a table row). */
export function RoleSelect({ value, onChange, label }: { value: Role; onChange(r: Role): void; label?: string }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange(e.target.value as Role)}>
      {ROLES.map((r) => (
        <option key={r} value={r} title={ROLE_HELP[r]}>
          {r}
        </option>
      ))}
    </select>
  );
}

import { POLICY_BOUNDS, type PolicyErrors, type PolicyField, type PolicyFields } from "../lib/cutover-policy.ts";

const HELP: Record<PolicyField, string> = {
  maxOutageSeconds: "Cut over only once the predicted outage fits; empty for no budget.",
  maxPasses: "Catch-up passes it may run to get there; empty for the server's default (5).",
  notBefore: "No stop before this time (your browser's time zone); empty for now.",
  notAfter: "No stop after this time: then it waits for an operator; empty for no end.",
};

/**
 * The budget, pass limit and window of an automatic cutover, each with its help or its error beside it. Shared by
 * the wizard and the job page; `idPrefix` keeps their ids apart.
 */
export function CutoverPolicyFields(props: {
  idPrefix: string;
  value: PolicyFields;
  errors: PolicyErrors;
  disabled?: boolean;
  onChange(patch: Partial<PolicyFields>): void;
}) {
  const { idPrefix, value, errors, onChange } = props;
  const field = (key: PolicyField, label: string, input: Record<string, string | number>) => {
    const id = `${idPrefix}-${key}`;
    const error = errors[key];
    return (
      // The note stays outside the label: it describes the input (aria-describedby) without renaming it.
      <div className="policy-field" key={key}>
        <label className="field">
          {label}
          <input
            id={id}
            name={key}
            value={value[key]}
            disabled={props.disabled}
            aria-invalid={error ? true : undefined}
            aria-describedby={`${id}-note`}
            onChange={(e) => onChange({ [key]: e.target.value })}
            {...input}
          />
        </label>
        <span id={`${id}-note`} className={error ? "error small" : "muted small"}>
          {error ?? HELP[key]}
        </span>
      </div>
    );
  };
  return (
    <div className="policy-fields">
      {field("maxOutageSeconds", "Outage budget (seconds)", {
        type: "number",
        min: POLICY_BOUNDS.minOutage,
        max: POLICY_BOUNDS.maxOutage,
        step: "any",
        inputMode: "decimal",
      })}
      {field("maxPasses", "Most catch-up passes", { type: "number", min: 0, max: POLICY_BOUNDS.maxPasses, step: 1 })}
      {field("notBefore", "Not before", { type: "datetime-local" })}
      {field("notAfter", "Not after", { type: "datetime-local" })}
    </div>
  );
}

import type { CutoverPolicy, Migration } from "@blockferry/contracts";
import { type FormEvent, useState } from "react";
import { CutoverPolicyFields } from "../../components/CutoverPolicyFields.tsx";
import { ApiError, errorText } from "../../lib/api.ts";
import {
  type PolicyErrors,
  type PolicyFields,
  policyFields,
  policyWords,
  readPolicy,
  serverFieldErrors,
} from "../../lib/cutover-policy.ts";
import { formatTime } from "../../lib/format.ts";
import { useSetCutoverPolicy } from "../jobs/api.ts";

export const POLICY_PANEL_ID = "cutover-policy";

/**
 * The cutover policy of a migration whose cutover is still ahead, in words, and (for an operator, opened) a form
 * that replaces it: manual or automatic, with an outage budget, a pass limit and a window. Errors stand at their
 * field: the form's own checks first, then what the server refused. A new stored policy (saved here or elsewhere)
 * resets the form to it.
 */
export function CutoverPolicyPanel(props: {
  job: Migration;
  canEdit: boolean;
  open: boolean;
  onToggle(open: boolean): void;
}) {
  const { job, canEdit } = props;
  const [mode, setMode] = useState<CutoverPolicy["mode"]>(job.cutoverPolicy.mode);
  const [fields, setFields] = useState<PolicyFields>(() => policyFields(job.cutoverPolicy));
  const [errors, setErrors] = useState<PolicyErrors>({});
  const [tried, setTried] = useState(false);
  const save = useSetCutoverPolicy(job.id);
  const stored = JSON.stringify(job.cutoverPolicy);
  const [shown, setShown] = useState(stored);
  if (shown !== stored) {
    setShown(stored);
    setMode(job.cutoverPolicy.mode);
    setFields(policyFields(job.cutoverPolicy));
    setErrors({});
    setTried(false);
  }
  const serverErrors = save.error instanceof ApiError ? serverFieldErrors(save.error.details) : {};
  const shownErrors = { ...serverErrors, ...errors };
  const general = save.isError && Object.keys(serverErrors).length === 0 ? errorText(save.error) : null;

  const change = (patch: Partial<PolicyFields>) => {
    const next = { ...fields, ...patch };
    setFields(next);
    save.reset();
    // Once a save was tried, each edit says at once whether its field is usable now.
    if (tried) setErrors(readPolicy(mode, next).errors);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTried(true);
    const { policy, errors: found } = readPolicy(mode, fields);
    setErrors(found);
    if (policy) save.mutate(policy);
  };

  return (
    <details
      id={POLICY_PANEL_ID}
      className="card policy-panel"
      open={props.open}
      onToggle={(e) => props.onToggle(e.currentTarget.open)}
    >
      <summary>
        <span className="policy-title">Cutover policy</span>{" "}
        <span className="muted" data-testid="policy-summary">
          {policyWords(job.cutoverPolicy, formatTime)}
        </span>
      </summary>
      {canEdit ? (
        <form className="policy-form" aria-label="Cutover policy" noValidate onSubmit={submit}>
          <fieldset className="policy-mode">
            <legend>When to cut over</legend>
            <label className="inline">
              <input
                type="radio"
                name="policy-mode"
                value="manual"
                checked={mode === "manual"}
                onChange={() => setMode("manual")}
              />
              Manual: when an operator presses Cut over
            </label>
            <label className="inline">
              <input
                type="radio"
                name="policy-mode"
                value="auto"
                checked={mode === "auto"}
                onChange={() => setMode("auto")}
              />
              Automatic: once the predicted outage fits, inside the window
            </label>
          </fieldset>
          {mode === "auto" ? (
            <CutoverPolicyFields idPrefix="policy" value={fields} errors={shownErrors} onChange={change} />
          ) : null}
          <div className="policy-buttons">
            <button type="submit" className="primary" disabled={save.isPending}>
              {save.isPending ? "Saving…" : "Save policy"}
            </button>
            {general ? (
              <p className="error small" role="alert">
                {general}
              </p>
            ) : save.isSuccess ? (
              <p className="muted small" role="status">
                Saved: the migration follows the new policy.
              </p>
            ) : null}
          </div>
        </form>
      ) : (
        <p className="muted small">An operator can change it while the cutover is still ahead.</p>
      )}
    </details>
  );
}

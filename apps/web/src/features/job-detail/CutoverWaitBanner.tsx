import type { CutoverWait } from "@blockferry/contracts";
import { HumanText } from "../../components/Figures.tsx";
import { formatTime } from "../../lib/format.ts";

const TITLES: Record<CutoverWait["reason"], string> = {
  before_window: "Waiting for the cutover window",
  over_budget: "Waiting: the predicted outage is over the budget",
  not_converging: "Not converging: an operator decides",
  window_closed: "The cutover window has closed: an operator decides",
  gate_refused: "The cutover gate said no",
};

/**
 * Why an automatic cutover is not starting, in the server's words with its figures, when it looks again by itself,
 * and what an operator can do about it: cut over now anyway, or change the policy.
 */
export function CutoverWaitBanner(props: { wait: CutoverWait; canAct: boolean; onChangePolicy(): void }) {
  const { wait, canAct } = props;
  const stuck = wait.until === null;
  return (
    <div className={`banner ${stuck ? "warning" : "info"} cutover-wait`} role="status" data-testid="cutover-wait">
      <p className="cutover-wait-title">
        <strong>{TITLES[wait.reason] ?? wait.reason}</strong>
      </p>
      <p data-testid="cutover-wait-message">
        <HumanText text={wait.message} />
      </p>
      <p className="small">
        {stuck ? "It waits for an operator." : `It looks again by itself at ${formatTime(wait.until)}.`}{" "}
        {canAct ? (
          <>
            You can cut over now anyway (the button below), or{" "}
            <button type="button" className="link-button" onClick={props.onChangePolicy}>
              change the policy
            </button>
            .
          </>
        ) : (
          "An operator can cut over now anyway, or change the policy."
        )}
      </p>
    </div>
  );
}

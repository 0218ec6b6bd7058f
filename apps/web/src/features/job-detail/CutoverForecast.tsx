import type { OutagePrediction } from "@blockferry/contracts";
import { Bytes } from "../../components/Figures.tsx";
import { downtimeWords, predictionParts } from "../../lib/cutover-policy.ts";
import { formatClock } from "../../lib/format.ts";

/**
 * "Cut over now: about 4 s of downtime", with the changed bytes beside it and, opened, the parts of the figure and
 * where each came from. `prediction` is the newest one the page has (job row or job.prediction event).
 */
export function CutoverForecast({ prediction: p }: { prediction: OutagePrediction }) {
  return (
    <div className="forecast" data-testid="cutover-prediction">
      <p className="forecast-line">
        <strong>Cut over now: {downtimeWords(p)}</strong>{" "}
        <span className="muted small">
          (<Bytes n={p.changedBytes} /> changed, predicted at {formatClock(p.at)})
        </span>
      </p>
      <details className="forecast-details">
        <summary>How this is predicted</summary>
        <dl className="forecast-parts">
          {predictionParts(p).map((part) => (
            <div key={part.label}>
              <dt>{part.label}</dt>
              <dd>{part.value}</dd>
            </div>
          ))}
        </dl>
        <p className="muted small" data-testid="prediction-basis">
          {p.basis}
        </p>
      </details>
    </div>
  );
}

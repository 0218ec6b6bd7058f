import type { EventHub } from "../events/hub.ts";
import type { Metrics } from "./registry.ts";

/**
 * Feeds the metrics from the event hub: a phase ends when the job's next phase starts or the job stops
 * (ends, fails, is cancelled); outages as the job records them (a rollback's too: the VM was down as long), and
 * after a cutover how far its outage was from the prediction taken right before the stop.
 * Timed from the stored events' times, so the numbers are those of the log. A phase that began before this
 * process started is not observed (its start is not in memory), which skews nothing but leaves it out.
 */
export function watchForMetrics(
  hub: Pick<EventHub, "subscribe">,
  metrics: Pick<Metrics, "outage" | "phaseEnded" | "predictionError">,
) {
  const running = new Map<number, { phase: string; since: number }>();
  const end = (jobId: number, at: number) => {
    const current = running.get(jobId);
    if (!current) return;
    running.delete(jobId);
    metrics.phaseEnded(current.phase, Math.max(0, at - current.since) / 1000);
  };
  return hub.subscribe(
    {},
    {
      event(e) {
        if (e.jobId === null) return;
        const at = Date.parse(e.at);
        switch (e.type) {
          case "job.phase":
            end(e.jobId, at);
            running.set(e.jobId, { phase: e.data.phase, since: at });
            break;
          case "job.state":
            // Waiting for cutover is the wait_cutover phase going on; any other stop (ends, cancelling) ends it.
            if (e.data.state !== "running" && e.data.state !== "waiting_cutover") end(e.jobId, at);
            break;
          case "job.outage":
            metrics.outage(e.data.outageMs / 1000);
            if (e.data.predictedOutageSeconds !== undefined)
              metrics.predictionError(e.data.outageMs / 1000 - e.data.predictedOutageSeconds);
            break;
          case "job.rolled_back":
            metrics.outage(e.data.outageMs / 1000);
            break;
        }
      },
      progress() {},
    },
  );
}

import { JOB_STATES, type JobState } from "@blockferry/contracts/vocabulary";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Where copied bytes travelled: through the server (relay); a direct host-to-host path would add its own. */
export type CopyPath = "relay";

/**
 * One prom-client registry per app instance (never the global one: tests build several apps in one process).
 * Gauges that mirror state elsewhere are read at scrape time; the rest are fed as things happen.
 */
export function createMetrics(d: {
  countByState(): Array<{ state: JobState; count: number }>;
  openSshConnections(): number;
}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: "blockferry_migrations",
    help: "Migrations by state, read from the database at scrape time",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      const counts = new Map(d.countByState().map((r) => [r.state, r.count]));
      // Every state, zeros included: a series that vanishes reads as "no data", not as none.
      for (const state of JOB_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  const bytesCopied = new Counter({
    name: "blockferry_bytes_copied_total",
    help: "Bytes confirmed on a target (read back and hash-matched), by data path",
    labelNames: ["path"],
    registers: [registry],
  });
  const outage = new Histogram({
    name: "blockferry_outage_seconds",
    help: "VM outage per cutover (VM stopped on the source to started on the target, or again on the source)",
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers: [registry],
  });
  const predictionError = new Histogram({
    name: "blockferry_outage_prediction_error_seconds",
    help: "Measured minus predicted outage per cutover (the prediction taken right before the VM was stopped)",
    buckets: [-60, -20, -10, -5, -2, -1, -0.5, 0, 0.5, 1, 2, 5, 10, 20, 60],
    registers: [registry],
  });
  const phaseDuration = new Histogram({
    name: "blockferry_phase_duration_seconds",
    help: "How long each phase ran, observed when it ended",
    labelNames: ["phase"],
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600],
    registers: [registry],
  });
  new Gauge({
    name: "blockferry_ssh_connections_open",
    help: "SSH connections to hypervisors that are up",
    registers: [registry],
    collect() {
      this.set(d.openSshConnections());
    },
  });
  const streamClients = new Gauge({
    name: "blockferry_event_stream_clients",
    help: "Open event stream websockets",
    registers: [registry],
  });

  return {
    registry,
    bytesCopied: (path: CopyPath, bytes: number) => {
      if (bytes > 0) bytesCopied.inc({ path }, bytes);
    },
    outage: (seconds: number) => outage.observe(seconds),
    predictionError: (measuredMinusPredicted: number) => predictionError.observe(measuredMinusPredicted),
    phaseEnded: (phase: string, seconds: number) => phaseDuration.observe({ phase }, seconds),
    streamClients: { opened: () => streamClients.inc(), closed: () => streamClients.dec() },
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

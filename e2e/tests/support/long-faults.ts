/**
 * The slow fault tests (a 30 s network drop, the server killed at six steps of the cutover, dm-flakey under the
 * target) take about 25 minutes under TCG: more than CI's budget. `pnpm test:faults` runs them; `pnpm test`
 * reports them as skipped.
 */
export const longFaults = process.env.BF_LAB_LONG_FAULTS === "1";

export * from "./auth.ts";
export * from "./common.ts";
export * from "./cutover.ts";
export * from "./events.ts";
export * from "./hosts.ts";
export * from "./inventory.ts";
export * from "./migration-report.ts";
export * from "./migrations.ts";
// The API schema of the same name (a value) next to the vocabulary's type.
export { JobState } from "./migrations.ts";
export * from "./stored-job.ts";
export * from "./units.ts";
export * from "./vocabulary.ts";
export * from "./webhooks.ts";

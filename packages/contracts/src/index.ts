export * from "./common.ts";
export * from "./events.ts";
export * from "./hosts.ts";
export * from "./inventory.ts";
export * from "./migrations.ts";

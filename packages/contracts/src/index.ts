export * from "./common.ts";
export * from "./events.ts";
export * from "./hosts.ts";
export * from "./migrations.ts";
export * from "./inventory.ts";

export * from "./api-client.ts";
export * from "./event-stream.ts";
export * from "./server-message.ts";

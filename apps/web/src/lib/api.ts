import { ApiError, createApiClient, type HttpMethod } from "@blockferry/client";

export { ApiError } from "@blockferry/client";

/** The page's own server. */
const client = createApiClient();

/** A request to the page's server through the shared client; failures are ApiError with the server's code. */
export function apiFetch<T>(
  path: string,
  init: { method?: HttpMethod; body?: unknown; signal?: AbortSignal } = {},
): Promise<T> {
  return client.request<T>(init.method ?? "GET", path, { body: init.body, signal: init.signal });
}

/** One line an operator can act on or quote to whoever runs the server. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === "NETWORK") return "The server cannot be reached. Is `blockferry serve` running?";
    return err.requestId ? `${err.message} (request ${err.requestId})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

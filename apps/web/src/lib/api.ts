import { ApiError, createApiClient, type HttpMethod } from "@blockferry/client";

export { ApiError } from "@blockferry/client";

/**
 * The logged-in session's CSRF token, echoed on every unsafe request (the cookie itself is HttpOnly and goes by
 * itself). Set by the session feature; undefined while nobody is logged in.
 */
let csrfToken: string | undefined;
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** The page's own server. */
const client = createApiClient({ csrfToken: () => csrfToken });

const unauthorizedListeners = new Set<() => void>();
/** Called whenever an API request answers 401: the session has expired or was revoked. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => {
    unauthorizedListeners.delete(listener);
  };
}

/**
 * A request to the page's server through the shared client; failures are ApiError with the server's code.
 * A 401 tells the session feature that the session is gone, except for `anonymous` requests (the session check and
 * the login itself), where a 401 is an ordinary answer.
 */
export async function apiFetch<T>(
  path: string,
  init: { method?: HttpMethod; body?: unknown; signal?: AbortSignal; anonymous?: boolean } = {},
): Promise<T> {
  try {
    return await client.request<T>(init.method ?? "GET", path, { body: init.body, signal: init.signal });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && !init.anonymous) for (const l of unauthorizedListeners) l();
    throw err;
  }
}

/** One line an operator can act on or quote to whoever runs the server. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === "NETWORK") return "The server cannot be reached. Is `blockferry serve` running?";
    return err.requestId ? `${err.message} (request ${err.requestId})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

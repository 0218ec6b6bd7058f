import type { ErrorBody } from "@blockferry/contracts";

/** An API failure with the server's code and request id (status 0 and code NETWORK: the server was not reached). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ApiError";
  }
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

export interface ApiClientOptions {
  /** Origin and prefix of the server ("http://127.0.0.1:7878"), or "" for the page's own origin. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** An API token (CLI, automation): sent as `Authorization: Bearer`. */
  token?: string;
  /** With cookie sessions (the dashboard): the session's CSRF token, echoed on every unsafe request. */
  csrfToken?: () => string | undefined;
}

export type ApiClient = ReturnType<typeof createApiClient>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

const SAFE_METHODS = new Set<HttpMethod>(["GET"]);

/**
 * Credentials, and `content-type: application/json` on every unsafe request, body or not: the server refuses
 * anything else (415), which is what keeps HTML forms and `text/plain` cross-site posts out.
 */
function headersFor(method: HttpMethod, opts: ApiClientOptions): Record<string, string> {
  const h: Record<string, string> = {};
  if (opts.token) h.authorization = `Bearer ${opts.token}`;
  if (!SAFE_METHODS.has(method)) {
    h["content-type"] = "application/json";
    const csrf = opts.csrfToken?.();
    if (csrf) h["x-csrf-token"] = csrf;
  }
  return h;
}

/** The documented error body, when the response carries one. */
export function readErrorBody(json: unknown): ErrorBody["error"] | null {
  if (!isRecord(json) || !isRecord(json.error)) return null;
  const { code, message, requestId, details } = json.error;
  if (typeof code !== "string" || typeof message !== "string") return null;
  return { code, message, requestId: typeof requestId === "string" ? requestId : "", details };
}

/**
 * Requests to the Blockferry API. Responses are typed by the caller's contract type `T` (the server validates its
 * responses against the same schemas); failures become ApiError, an abort stays the caller's AbortError.
 */
export function createApiClient(opts: ApiClientOptions = {}) {
  const base = (opts.baseUrl ?? "").replace(/\/$/, "");
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  return {
    baseUrl: base,
    async request<T>(method: HttpMethod, path: string, o: RequestOptions = {}): Promise<T> {
      let res: Response;
      try {
        res = await doFetch(`${base}${path}`, {
          method,
          headers: headersFor(method, opts),
          body: o.body === undefined ? undefined : JSON.stringify(o.body),
          signal: o.signal,
        });
      } catch (err) {
        if (o.signal?.aborted) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw new ApiError(
          0,
          "NETWORK",
          `the Blockferry server at ${base || "this address"} cannot be reached (${why})`,
          undefined,
          undefined,
          { cause: err },
        );
      }
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (!res.ok) {
        const e = readErrorBody(json);
        throw new ApiError(
          res.status,
          e?.code ?? "HTTP",
          e?.message ?? `HTTP ${res.status} ${res.statusText}`.trim(),
          e?.requestId,
          e?.details,
        );
      }
      // The response's shape is the contract's: the server serialises it through the same TypeBox schema.
      return json as T;
    },
  };
}

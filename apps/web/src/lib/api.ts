import type { ErrorBody } from "@blockferry/contracts";

/** An API error with the server's code and request id, for messages an operator can report. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

export async function apiFetch<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, {
    ...init,
    headers: { ...(init?.body ? { "content-type": "application/json" } : {}), ...init?.headers },
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as ErrorBody | null;
    throw new ApiError(
      res.status,
      body?.error.code ?? "HTTP",
      body?.error.message ?? res.statusText,
      body?.error.requestId,
    );
  }
  return (await res.json()) as T;
}

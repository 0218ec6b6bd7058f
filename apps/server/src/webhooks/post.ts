import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface PostResult {
  /** HTTP status, or null when no answer came (connection refused, timeout, TLS error). */
  status: number | null;
  error: string | null;
}

/**
 * One POST with a deadline. Redirects are not followed (a 3xx is the answer: a receiver that moved must be
 * edited by an admin, not followed to wherever it points). No agent: no socket outlives the attempt.
 */
export function postOnce(
  url: string,
  headers: Record<string, string>,
  body: string,
  o: { timeoutMs: number; signal: AbortSignal },
): Promise<PostResult> {
  return new Promise((resolve) => {
    const request = url.startsWith("https:") ? httpsRequest : httpRequest;
    let settled = false;
    const done = (r: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = request(
      url,
      {
        method: "POST",
        agent: false,
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        signal: o.signal,
      },
      (res) => {
        // Drain what the receiver says (unread, the socket would stay open); its body does not matter.
        res.resume();
        res.on("end", () => done({ status: res.statusCode ?? null, error: null }));
        res.on("error", (err) => done({ status: res.statusCode ?? null, error: err.message }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${o.timeoutMs / 1000} s`));
    }, o.timeoutMs);
    req.on("error", (err) => done({ status: null, error: err.message }));
    req.end(body);
  });
}

/** A host as an operator knows it (its registered name) and as the SSH layer names it in errors (user@address:port). */
export interface NamedEndpoint {
  name: string;
  endpoint?: string;
}

/** Socket error codes in the words an operator reads: "connect ECONNREFUSED 127.0.0.1:22" is "connection refused". */
const SOCKET_WORDS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "no route to host",
  ENETUNREACH: "network unreachable",
  EPIPE: "connection broken",
  ENOTFOUND: "address not found",
};
const SOCKET_ERROR = new RegExp(
  `(?:(?:connect|read|write|getaddrinfo) )?\\b(${Object.keys(SOCKET_WORDS).join("|")})\\b(?: [\\w.:\\[\\]-]+)?`,
  "g",
);

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A failure's message for the job's record and the dashboard: every host the remote layer named by its address
 * leads with its registered name, the address kept as detail ("cannot reach lab2 (root@10.0.0.2:22): connection
 * refused"), and socket error codes become words.
 */
export function hostNamedMessage(message: string, hosts: readonly NamedEndpoint[]): string {
  let out = message;
  for (const h of hosts) {
    if (!h.endpoint) continue;
    // Not inside a longer address (port 22 in 2222), and not where the name leads already.
    const bare = new RegExp(`(?<!${escapeRegExp(h.name)} \\()${escapeRegExp(h.endpoint)}(?!\\d)`, "g");
    out = out.replace(bare, `${h.name} (${h.endpoint})`);
  }
  return out.replace(SOCKET_ERROR, (_all, code: string) => SOCKET_WORDS[code] ?? code);
}

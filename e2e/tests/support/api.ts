import { type CreateMigration, type Host, isTerminalJobState, type Migration } from "@blockferry/contracts";
import type { LabHost } from "../../lab/harness.ts";
import { authHeaders } from "./auth.ts";

/** A tiny typed client for the real HTTP API, as the CLI uses it: every request carries the API token. */
export function apiClient(base: string, token: string) {
  /** The raw response, for tests that look at a refusal's status and body. */
  const send = (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${base}${path}`, {
      method,
      headers: authHeaders(token, method),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await send(method, path, body);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const api = {
    call,
    send,
    /** Adds a lab host and trusts the fingerprint it presents after checking it equals the lab's record. */
    async addTrustedHost(lab: LabHost): Promise<Host> {
      const added = await call<{ host: Host; fingerprint: string }>("POST", "/api/hosts", {
        name: lab.name,
        address: lab.address,
        port: lab.port,
        privateKey: lab.privateKey,
      });
      if (added.fingerprint !== lab.hostKeyFingerprintSha256)
        throw new Error(`${lab.name} presented ${added.fingerprint}, lab says ${lab.hostKeyFingerprintSha256}`);
      return call<Host>("POST", `/api/hosts/${added.host.id}/trust`, { fingerprint: added.fingerprint });
    },
    createMigration: (body: CreateMigration) => call<Migration>("POST", "/api/migrations", body),
    migration: (id: number) => call<Migration>("GET", `/api/migrations/${id}`),
    cutover: (id: number) => call<Migration>("POST", `/api/migrations/${id}/cutover`),
    cancel: (id: number) => call<Migration>("POST", `/api/migrations/${id}/cancel`),
    retry: (id: number) => call<Migration>("POST", `/api/migrations/${id}/retry`),
    /** Polls until the job satisfies `pred`; fails fast when it ends in another final state. */
    async waitFor(id: number, pred: (m: Migration) => boolean, timeoutMs = 240_000): Promise<Migration> {
      const end = Date.now() + timeoutMs;
      let lastReport = Date.now();
      for (;;) {
        const m = await api.migration(id);
        if (Date.now() - lastReport > 15_000) {
          lastReport = Date.now();
          process.stderr.write(`migration ${id}: ${m.state}/${m.phase} ${m.bytesDone}/${m.bytesTotal}\n`);
        }
        if (pred(m)) return m;
        if (isTerminalJobState(m.state))
          throw new Error(`migration ${id} ended ${m.state} in ${m.phase}: ${m.error?.message ?? ""}`);
        if (Date.now() > end) throw new Error(`migration ${id} stuck in ${m.state}/${m.phase}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
  };
  return api;
}

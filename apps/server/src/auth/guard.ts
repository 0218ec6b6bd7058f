import { CSRF_HEADER, type Role, roleAllows, SESSION_COOKIE } from "@blockferry/contracts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { ForbiddenError, MisdirectedRequestError, UnauthenticatedError, UnsupportedMediaTypeError } from "../errors.ts";
import type { ApiTokens } from "./api-tokens.ts";
import type { Access, Principal } from "./principal.ts";
import { sameSecret } from "./secrets.ts";
import type { Sessions } from "./sessions.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route: "public", or the least role. Unset: viewer for reads, admin for anything else. */
    access?: Access;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface GuardOptions {
  sessions: Sessions;
  tokens: ApiTokens;
  /** Host names the server answers to (lower case, no port). */
  allowedHosts: ReadonlySet<string>;
  /** Origins of public URLs (`https://bf.example.com`), allowed besides same-origin requests. */
  allowedOrigins: ReadonlySet<string>;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The host name of a Host header or URL authority, without port or IPv6 brackets, lower case. */
export function hostNameOf(authority: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(authority) ?? /^([^:]+)(?::\d+)?$/.exec(authority);
  return (m?.[1] ?? authority).toLowerCase();
}

const isApi = (url: string) => url === "/api" || url.startsWith("/api/") || url.startsWith("/api?");
/** Guarded like the API: credentials and roles (the dashboard's files and pages are public). */
const isGuarded = (url: string) => isApi(url) || url === "/metrics" || url.startsWith("/metrics?");

function bearerOf(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m?.[1]) throw new UnauthenticatedError("the Authorization header must be `Bearer <token>`");
  return m[1];
}

/**
 * The one gate every request passes, websocket upgrades included, before any route runs:
 * Host allow-list (421), then for the API: cross-site and foreign-Origin requests (403), non-JSON bodies on
 * unsafe methods (415), credentials (401: bearer token or session cookie), the CSRF token for cookie-authenticated
 * unsafe requests (403) and the route's least role (403).
 */
export const authGuard = fp(
  async (app: FastifyInstance, o: GuardOptions) => {
    const originAllowed = (origin: string, host: string | undefined): boolean => {
      if (o.allowedOrigins.has(origin)) return true;
      let url: URL;
      try {
        url = new URL(origin);
      } catch {
        return false;
      }
      if (host === undefined || !o.allowedHosts.has(hostNameOf(url.host))) return false;
      // Same origin: the Host header read with the origin's scheme (so `localhost:80` equals `http://localhost`).
      try {
        return new URL(`${url.protocol}//${host}`).host === url.host;
      } catch {
        return false;
      }
    };

    const authenticate = (request: FastifyRequest): Principal | undefined => {
      const bearer = bearerOf(request);
      if (bearer !== undefined) {
        const p = o.tokens.resolve(bearer);
        if (!p) throw new UnauthenticatedError("the API token is unknown or revoked");
        return p;
      }
      const cookie = request.cookies[SESSION_COOKIE];
      return cookie ? o.sessions.resolve(cookie) : undefined;
    };

    app.addHook("onRequest", async (request) => {
      const host = request.headers.host;
      if (!host || !o.allowedHosts.has(hostNameOf(host)))
        throw new MisdirectedRequestError(
          "this server is not served under that host name; add it with --public-url / BLOCKFERRY_PUBLIC_URL",
        );
      if (!isGuarded(request.url)) return;

      if (request.headers["sec-fetch-site"] === "cross-site")
        throw new ForbiddenError("cross-site requests are refused", "CROSS_SITE");
      const origin = request.headers.origin;
      if (origin !== undefined && !originAllowed(origin, host))
        throw new ForbiddenError(`requests from origin ${origin} are refused`, "FOREIGN_ORIGIN");

      const unsafe = !SAFE_METHODS.has(request.method);
      if (unsafe) {
        const type = (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
        if (type !== "application/json")
          throw new UnsupportedMediaTypeError("requests that change something must be sent as application/json");
      }

      const access: Access = request.routeOptions.config?.access ?? (unsafe ? "admin" : "viewer");
      const principal = authenticate(request);
      request.principal = principal;
      if (access === "public") return;
      if (!principal) throw new UnauthenticatedError();
      if (principal.via === "session" && unsafe) {
        const sent = request.headers[CSRF_HEADER];
        if (typeof sent !== "string" || !principal.csrfToken || !sameSecret(sent, principal.csrfToken))
          throw new ForbiddenError(`missing or wrong ${CSRF_HEADER} header`, "CSRF_TOKEN_INVALID");
      }
      if (!roleAllows(principal.role, access as Role))
        throw new ForbiddenError(`this needs the ${access} role; you are ${principal.role}`);
    });
  },
  { name: "auth-guard", dependencies: ["@fastify/cookie"] },
);

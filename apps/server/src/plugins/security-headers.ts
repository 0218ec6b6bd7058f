import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/**
 * The policy the dashboard runs under (proved in Chromium by e2e/browser/dashboard-loads.test.ts): everything from
 * our own origin, no inline script or <style>, no framing, no plugins. React sets `style={{}}` through the CSSOM,
 * which style-src does not govern; the build has no data: images or fonts. `'self'` in connect-src covers the same-origin websocket (CSP Level 3).
 */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * Security headers on every response, API and dashboard alike. No HSTS and no upgrade-insecure-requests: the
 * server speaks plain HTTP (TLS, where there is any, ends at a proxy, which is the one to send HSTS), and either
 * would break a dashboard served over http.
 */
export const securityHeaders = fp(
  async (app: FastifyInstance) => {
    await app.register(helmet, {
      contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
      strictTransportSecurity: false,
      frameguard: { action: "deny" },
      referrerPolicy: { policy: "no-referrer" },
    });
  },
  { name: "security-headers" },
);

import type { CreateMigration, PrecheckResult } from "@blockferry/contracts";
import cookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from "fastify";
import { authGuard } from "./auth/guard.ts";
import type { Auth } from "./auth/index.ts";
import type { AuditRepo } from "./db/repositories/audit.ts";
import type { EventsRepo } from "./db/repositories/events.ts";
import type { EventHub } from "./events/hub.ts";
import type { HostRegistry } from "./hosts/trust/registry.ts";
import type { DecommissionService } from "./jobs/decommission.ts";
import type { MigrationHistory } from "./jobs/migration-history.ts";
import type { MigrationService } from "./jobs/migration-service.ts";
import type { Metrics } from "./metrics/registry.ts";
import { errorHandler, frameworkErrors } from "./plugins/error-handler.ts";
import { openapi } from "./plugins/openapi.ts";
import { securityHeaders } from "./plugins/security-headers.ts";
import { webStatic } from "./plugins/web-static.ts";
import { exactBodyValidators } from "./request-validators.ts";
import { auditRoutes } from "./routes/audit/index.ts";
import { eventRoutes } from "./routes/events/index.ts";
import { healthRoutes } from "./routes/health/index.ts";
import { hostRoutes } from "./routes/hosts/index.ts";
import { metricsRoutes } from "./routes/metrics/index.ts";
import { decommissionRoutes } from "./routes/migrations/decommission.ts";
import { migrationHistoryRoutes } from "./routes/migrations/history.ts";
import { migrationRoutes } from "./routes/migrations/index.ts";
import { sessionRoutes } from "./routes/session/index.ts";
import { tokenRoutes } from "./routes/tokens/index.ts";
import { userRoutes } from "./routes/users/index.ts";
import { webhookRoutes } from "./routes/webhooks/index.ts";
import type { WebhookService } from "./webhooks/service.ts";

/** Everything the HTTP layer needs, built by the caller (server.ts or a test). */
export interface AppDeps {
  version: string;
  sshNativeCrypto: boolean;
  hub: EventHub;
  events: Pick<EventsRepo, "listAfter">;
  registry: HostRegistry;
  migrations: MigrationService;
  history: MigrationHistory;
  decommission: DecommissionService;
  prechecks(input: CreateMigration): Promise<PrecheckResult>;
  auth: Auth;
  audit: Pick<AuditRepo, "page">;
  webhooks: WebhookService;
  metrics: Pick<Metrics, "registry" | "streamClients">;
  /** Host names (Host header, no port) and extra origins the server is served under. */
  served: { hosts: ReadonlySet<string>; origins: ReadonlySet<string> };
  /** Served over TLS (directly or behind a proxy): session cookies get `Secure`. */
  secureCookie?: boolean;
  webDir?: string;
}

/** The whole app as one plugin: never listens, so tests drive it with inject() or a port of their own. */
export async function appPlugin(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await app.register(errorHandler);
  acceptEmptyJsonBodies(app);
  await app.register(securityHeaders);
  // Before the guard: its onRequest hook marks upgrade requests, so that when the guard refuses one (401/403) its
  // onResponse hook ends the socket. Registered after, a refused upgrade left the socket half-open and close() hung.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  await app.register(cookie);
  await app.register(authGuard, {
    sessions: deps.auth.sessions,
    tokens: deps.auth.tokens,
    allowedHosts: deps.served.hosts,
    allowedOrigins: deps.served.origins,
  });
  await app.register(rateLimit, { global: false });
  await app.register(openapi);

  const apiRoutes: FastifyPluginAsync = async (api) => {
    await api.register(healthRoutes, { version: deps.version, sshNativeCrypto: deps.sshNativeCrypto });
    await api.register(sessionRoutes, {
      sessions: deps.auth.sessions,
      firstRun: deps.auth.firstRun,
      secureCookie: deps.secureCookie ?? false,
    });
    await api.register(userRoutes, { accounts: deps.auth.accounts });
    await api.register(tokenRoutes, { tokens: deps.auth.tokens });
    await api.register(auditRoutes, { audit: deps.audit });
    await api.register(eventRoutes, { hub: deps.hub, events: deps.events, clients: deps.metrics.streamClients });
    await api.register(hostRoutes, { registry: deps.registry });
    await api.register(migrationRoutes, { migrations: deps.migrations, prechecks: deps.prechecks });
    await api.register(migrationHistoryRoutes, { history: deps.history });
    await api.register(decommissionRoutes, { decommission: deps.decommission });
    await api.register(webhookRoutes, { webhooks: deps.webhooks });
    api.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  };
  await app.register(apiRoutes, { prefix: "/api" });
  // Where Prometheus looks by default; outside /api but behind the same guard (see auth/guard.ts).
  await app.register(metricsRoutes, { registry: deps.metrics.registry });

  if (deps.webDir) await app.register(webStatic, { webDir: deps.webDir });
}

/**
 * Unsafe requests must say application/json even when they carry nothing (that is what keeps HTML forms and
 * `text/plain` fetches out), so an empty JSON body means "no body" instead of Fastify's 400.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text === "") done(null, undefined);
    else void parseJson(request, text, done);
  });
}

export async function buildApp(deps: AppDeps, opts: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...opts,
    requestIdHeader: "x-request-id",
    genReqId: () => crypto.randomUUID(),
    // A URL that does not decode fails before routing: give it the same error body as everything else.
    frameworkErrors,
    // Reject unknown properties instead of silently dropping them; dropping also breaks anyOf unions.
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: { buildValidator: exactBodyValidators() } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  await appPlugin(app, deps);
  return app;
}

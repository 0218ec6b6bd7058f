import type { CreateMigration, PrecheckResult } from "@blockferry/contracts";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from "fastify";
import type { EventsRepo } from "./db/repositories/events.ts";
import type { EventHub } from "./events/hub.ts";
import type { HostRegistry } from "./hosts/trust/registry.ts";
import type { MigrationService } from "./jobs/migration-service.ts";
import { errorHandler, frameworkErrors } from "./plugins/error-handler.ts";
import { openapi } from "./plugins/openapi.ts";
import { securityHeaders } from "./plugins/security-headers.ts";
import { webStatic } from "./plugins/web-static.ts";
import { exactBodyValidators } from "./request-validators.ts";
import { eventRoutes } from "./routes/events/index.ts";
import { healthRoutes } from "./routes/health/index.ts";
import { hostRoutes } from "./routes/hosts/index.ts";
import { migrationRoutes } from "./routes/migrations/index.ts";

/** Everything the HTTP layer needs, built by the caller (server.ts or a test). */
export interface AppDeps {
  version: string;
  sshNativeCrypto: boolean;
  hub: EventHub;
  events: Pick<EventsRepo, "listAfter">;
  registry: HostRegistry;
  migrations: MigrationService;
  prechecks(input: CreateMigration): Promise<PrecheckResult>;
  webDir?: string;
}

/** The whole app as one plugin: never listens, so tests drive it with inject() or a port of their own. */
export async function appPlugin(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await app.register(errorHandler);
  await app.register(securityHeaders);
  await app.register(openapi);
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  const apiRoutes: FastifyPluginAsync = async (api) => {
    await api.register(healthRoutes, { version: deps.version, sshNativeCrypto: deps.sshNativeCrypto });
    await api.register(eventRoutes, { hub: deps.hub, events: deps.events });
    await api.register(hostRoutes, { registry: deps.registry });
    await api.register(migrationRoutes, { migrations: deps.migrations, prechecks: deps.prechecks });
    api.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  };
  await app.register(apiRoutes, { prefix: "/api" });

  if (deps.webDir) await app.register(webStatic, { webDir: deps.webDir });
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

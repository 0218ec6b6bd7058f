import {
  CreateHost,
  ErrorBody,
  Host,
  HostHealth,
  HostList,
  IdParams,
  Inventory,
  TrustHost,
  UpdateHost,
} from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import { actorOf } from "../../auth/principal.ts";
import type { HostRegistry } from "../../hosts/trust/registry.ts";
import { hostErrors } from "../error-responses.ts";
import { readById } from "../read-by-id.ts";

const errors = hostErrors;
const Added = Type.Object({
  host: Host,
  fingerprint: Type.Union([Type.String(), Type.Null()]),
  probeError: Type.Union([Type.String(), Type.Null()]),
});

export const hostRoutes: FastifyPluginAsyncTypebox<{ registry: HostRegistry }> = async (app, { registry }) => {
  app.get(
    "/hosts",
    { schema: { operationId: "listHosts", tags: ["hosts"], response: { 200: HostList, 500: ErrorBody } } },
    async () => ({ hosts: registry.list() }),
  );

  app.post(
    "/hosts",
    { schema: { operationId: "addHost", tags: ["hosts"], body: CreateHost, response: { 201: Added, ...errors } } },
    async (request, reply) =>
      reply.status(201).send(await registry.add(request.body, actorOf(request.principal, request.ip))),
  );

  app.get("/hosts/:id", readById("getHost", "hosts", Host, errors), async (request) => registry.get(request.params.id));

  app.patch(
    "/hosts/:id",
    {
      schema: {
        operationId: "updateHost",
        tags: ["hosts"],
        description: "Sets or clears (null) the migration address; 400 says what is wrong with a bad one.",
        params: IdParams,
        body: UpdateHost,
        response: { 200: Host, ...errors },
      },
    },
    async (request) => registry.update(request.params.id, request.body, actorOf(request.principal, request.ip)),
  );

  app.delete(
    "/hosts/:id",
    {
      schema: {
        operationId: "removeHost",
        tags: ["hosts"],
        description:
          "409 while any migration names the host (details.reason host_in_use for unfinished ones, host_has_history " +
          "for finished ones, whose history is kept); nothing is changed then.",
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      await registry.remove(request.params.id, actorOf(request.principal, request.ip));
      return reply.status(204).send(null);
    },
  );

  app.post(
    "/hosts/:id/probe",
    {
      schema: {
        operationId: "probeHost",
        tags: ["hosts"],
        params: IdParams,
        response: { 200: Type.Object({ fingerprint: Type.String() }), ...errors },
      },
    },
    async (request) => registry.probe(request.params.id),
  );

  app.post(
    "/hosts/:id/trust",
    {
      schema: {
        operationId: "trustHost",
        tags: ["hosts"],
        params: IdParams,
        body: TrustHost,
        response: { 200: Host, ...errors },
      },
    },
    async (request) =>
      registry.trust(request.params.id, request.body.fingerprint, actorOf(request.principal, request.ip)),
  );

  app.get("/hosts/:id/health", readById("hostHealth", "hosts", HostHealth, errors), async (request) =>
    registry.health(request.params.id),
  );

  app.get("/hosts/:id/inventory", readById("hostInventory", "hosts", Inventory, errors), async (request) =>
    registry.inventory(request.params.id),
  );
};

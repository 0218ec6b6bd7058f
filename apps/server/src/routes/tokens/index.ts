import { ApiTokenList, CreateApiToken, CreatedApiToken, IdParams } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { ApiTokens } from "../../auth/api-tokens.ts";
import { actorOf } from "../../auth/principal.ts";
import { UnauthenticatedError } from "../../errors.ts";
import { requestErrors } from "../error-responses.ts";

const errors = requestErrors;
const admin = { access: "admin" } as const;

export const tokenRoutes: FastifyPluginAsyncTypebox<{ tokens: ApiTokens }> = async (app, { tokens }) => {
  app.get(
    "/tokens",
    {
      config: admin,
      schema: { operationId: "listTokens", tags: ["tokens"], response: { 200: ApiTokenList, ...errors } },
    },
    async () => ({ tokens: tokens.list() }),
  );

  app.post(
    "/tokens",
    {
      config: admin,
      schema: {
        operationId: "createToken",
        tags: ["tokens"],
        description: "The token is in this answer only; the server keeps its hash. Send it as `Authorization: Bearer`.",
        body: CreateApiToken,
        response: { 201: CreatedApiToken, ...errors },
      },
    },
    async (request, reply) => {
      const owner = request.principal;
      if (!owner) throw new UnauthenticatedError();
      return reply.status(201).send(tokens.create(request.body, owner, actorOf(owner, request.ip)));
    },
  );

  app.delete(
    "/tokens/:id",
    {
      config: admin,
      schema: {
        operationId: "revokeToken",
        tags: ["tokens"],
        description: "The token stops working at once.",
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      tokens.revoke(request.params.id, actorOf(request.principal, request.ip));
      return reply.status(204).send(null);
    },
  );
};

import { CreateUser, IdParams, UpdateUser, User, UserList } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "typebox";
import type { Accounts } from "../../auth/accounts.ts";
import { actorOf } from "../../auth/principal.ts";
import { requestErrors } from "../error-responses.ts";

const errors = requestErrors;
const admin = { access: "admin" } as const;

export const userRoutes: FastifyPluginAsyncTypebox<{ accounts: Accounts }> = async (app, { accounts }) => {
  app.get(
    "/users",
    { config: admin, schema: { operationId: "listUsers", tags: ["users"], response: { 200: UserList, ...errors } } },
    async () => ({ users: accounts.list() }),
  );

  app.post(
    "/users",
    {
      config: admin,
      schema: { operationId: "createUser", tags: ["users"], body: CreateUser, response: { 201: User, ...errors } },
    },
    async (request, reply) =>
      reply.status(201).send(await accounts.create(request.body, actorOf(request.principal, request.ip))),
  );

  app.patch(
    "/users/:id",
    {
      config: admin,
      schema: {
        operationId: "updateUser",
        tags: ["users"],
        description: "A new password ends the user's sessions. The last admin cannot be demoted (409).",
        params: IdParams,
        body: UpdateUser,
        response: { 200: User, ...errors },
      },
    },
    async (request) => accounts.update(request.params.id, request.body, actorOf(request.principal, request.ip)),
  );

  app.delete(
    "/users/:id",
    {
      config: admin,
      schema: {
        operationId: "removeUser",
        tags: ["users"],
        description: "Ends the user's sessions and revokes their tokens at once. The last admin cannot go (409).",
        params: IdParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      accounts.remove(request.params.id, actorOf(request.principal, request.ip));
      return reply.status(204).send(null);
    },
  );
};

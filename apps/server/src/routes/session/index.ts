import { ErrorBody, FirstAdmin, Login, SESSION_COOKIE, Session, SetupStatus } from "@blockferry/contracts";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { Type } from "typebox";
import type { FirstRun } from "../../auth/first-run.ts";
import { actorOf } from "../../auth/principal.ts";
import type { Sessions } from "../../auth/sessions.ts";
import { UnauthenticatedError } from "../../errors.ts";

export interface SessionRouteDeps {
  sessions: Sessions;
  firstRun: FirstRun;
  /** Served over TLS: the cookie gets `Secure`. */
  secureCookie: boolean;
}

const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 409: ErrorBody, 429: ErrorBody };
/** Per client address, on top of the per-username lockout in the login itself. */
const loginRateLimit = { max: 30, timeWindow: "1 minute" };

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRouteDeps> = async (app, d) => {
  const setCookie = (reply: FastifyReply, token: string) =>
    reply.setCookie(SESSION_COOKIE, token, {
      path: "/",
      httpOnly: true,
      sameSite: "strict",
      secure: d.secureCookie,
      maxAge: Math.floor(d.sessions.policy.maxMs / 1000),
    });

  app.post(
    "/session",
    {
      config: { access: "public", rateLimit: loginRateLimit },
      schema: { operationId: "login", tags: ["session"], body: Login, response: { 200: Session, ...errors } },
    },
    async (request, reply) => {
      const { token, session } = await d.sessions.login(
        request.body.username,
        request.body.password,
        actorOf(undefined, request.ip),
      );
      setCookie(reply, token);
      return session;
    },
  );

  app.get(
    "/session",
    { schema: { operationId: "getSession", tags: ["session"], response: { 200: Session, ...errors } } },
    async (request) => {
      // The guard resolved the cookie already (an ended session never gets here); a token has no session.
      const session = request.principal?.session;
      if (!session) throw new UnauthenticatedError("no session: log in");
      return session;
    },
  );

  app.delete(
    "/session",
    {
      config: { access: "viewer" },
      schema: { operationId: "logout", tags: ["session"], response: { 204: Type.Null(), ...errors } },
    },
    async (request, reply) => {
      const p = request.principal;
      if (p?.sessionHash) d.sessions.logout(p.sessionHash, actorOf(p, request.ip));
      reply.clearCookie(SESSION_COOKIE, { path: "/" });
      return reply.status(204).send(null);
    },
  );

  app.get(
    "/setup",
    {
      config: { access: "public" },
      schema: { operationId: "getSetupStatus", tags: ["session"], response: { 200: SetupStatus } },
    },
    async () => ({ needed: d.firstRun.needed() }),
  );

  app.post(
    "/setup",
    {
      config: { access: "public", rateLimit: loginRateLimit },
      schema: {
        operationId: "createFirstAdmin",
        description: "Creates the first admin with the one-time setup token the server printed, and logs them in.",
        tags: ["session"],
        body: FirstAdmin,
        response: { 200: Session, ...errors },
      },
    },
    async (request, reply) => {
      const { token, session } = await d.firstRun.createAdmin(request.body, actorOf(undefined, request.ip));
      setCookie(reply, token);
      return session;
    },
  );
};

import type { ErrorBody } from "@blockferry/contracts";
import type { FastifyError, FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { DomainError, statusOf } from "../errors.ts";

/** One place that turns errors into responses: domain errors keep their message, 5xx bodies hide internals. */
export const errorHandler = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError | DomainError, request, reply) => {
      const requestId = String(request.id);
      let status: number;
      let body: ErrorBody["error"];
      if (err instanceof DomainError) {
        status = statusOf(err);
        body = { code: err.code, message: err.message, requestId, details: err.details };
      } else if ("validation" in err && err.validation) {
        status = 400;
        body = { code: "INVALID_INPUT", message: err.message, requestId, details: err.validation };
      } else if ("statusCode" in err && err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
        status = err.statusCode;
        body = { code: err.code ?? "BAD_REQUEST", message: err.message, requestId };
      } else {
        status = 500;
        body = { code: "INTERNAL", message: "Internal server error", requestId };
      }
      if (status >= 500) request.log.error({ err }, "request failed");
      else request.log.info({ code: body.code, msg: body.message }, "request rejected");
      if (body.details === undefined) delete body.details;
      return reply.status(status).send({ error: body });
    });

    app.setNotFoundHandler((request, reply) => {
      const body: ErrorBody = {
        error: {
          code: "NOT_FOUND",
          message: `${request.method} ${request.url} does not exist`,
          requestId: String(request.id),
        },
      };
      return reply.status(404).send(body);
    });
  },
  { name: "error-handler" },
);

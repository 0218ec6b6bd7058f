import type { ErrorBody } from "@blockferry/contracts";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { DomainError, publicUpstreamMessage, statusOf, UpstreamError } from "../errors.ts";
import { HostKeyMismatchError } from "../hosts/transport/errors.ts";

/** Fastify's own 4xx errors under stable codes of ours (the FST_ERR_* names are Fastify's, not our API's). */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_BAD_URL: "BAD_URL",
  FST_ERR_CTP_INVALID_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_EMPTY_JSON_BODY: "INVALID_JSON",
  FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "BAD_REQUEST",
};

type Answer = { status: number; body: ErrorBody["error"] };

/**
 * What a response may say about an error. Domain errors below 500 keep their message and details; a hypervisor
 * failure (502/504) says what kind of failure and the host's registered name, never its address, the command or
 * its stderr; any other 5xx says nothing. The full error always goes to the server log.
 */
export function answerOf(err: unknown, requestId: string): Answer {
  if (err instanceof UpstreamError)
    return {
      status: statusOf(err),
      body: { code: err.code, message: publicUpstreamMessage(err, requestId), requestId },
    };
  if (err instanceof HostKeyMismatchError) {
    // Fingerprints are public (any client of the host sees them); the address and user stay out.
    const host = err.hostName ?? "the host";
    return {
      status: statusOf(err),
      body: {
        code: err.code,
        message:
          `${host} presented host key ${err.presentedFingerprint}, not the pinned ${err.expectedFingerprint}; ` +
          "nothing was run. Verify the new key and trust it again",
        requestId,
        details: { expectedFingerprint: err.expectedFingerprint, presentedFingerprint: err.presentedFingerprint },
      },
    };
  }
  if (err instanceof DomainError) {
    const status = statusOf(err);
    if (status >= 500) return internal(requestId);
    return { status, body: { code: err.code, message: err.message, requestId, details: err.details } };
  }
  const e = err as Partial<FastifyError>;
  if (e.validation)
    return {
      status: 400,
      body: { code: "INVALID_INPUT", message: String(e.message), requestId, details: e.validation },
    };
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    const code =
      (e.code && FASTIFY_CODES[e.code]) ?? (e.code?.startsWith("FST_") ? "BAD_REQUEST" : (e.code ?? "BAD_REQUEST"));
    return { status: e.statusCode, body: { code, message: String(e.message), requestId } };
  }
  return internal(requestId);
}

const internal = (requestId: string): Answer => ({
  status: 500,
  body: { code: "INTERNAL", message: `Internal server error; see the server log, request id ${requestId}`, requestId },
});

/** Logs the error (in full for a 5xx) and sends the documented body. */
function reply(request: FastifyRequest, res: FastifyReply, err: unknown) {
  const answer = answerOf(err, String(request.id));
  if (answer.status >= 500) request.log.error({ err }, "request failed");
  else request.log.info({ code: answer.body.code, msg: answer.body.message }, "request rejected");
  if (answer.body.details === undefined) delete answer.body.details;
  return res.status(answer.status).send({ error: answer.body });
}

/** One place that turns errors into responses: domain errors keep their message, 5xx bodies hide internals. */
export const errorHandler = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError | DomainError, request, res) => reply(request, res, err));

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

/**
 * Fastify's `frameworkErrors` option: errors raised before routing (a URL that does not decode), which never reach
 * the error handler. Same body as every other error.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, res: FastifyReply) {
  return reply(request, res, err);
}

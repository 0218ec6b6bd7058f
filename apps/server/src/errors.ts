/** Domain errors: services throw these; one handler maps them to HTTP status codes. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string | number) {
    super("NOT_FOUND", `${what} ${id} does not exist`);
  }
}

export class InvalidInputError extends DomainError {
  constructor(message: string, details?: unknown) {
    super("INVALID_INPUT", message, details);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, details?: unknown) {
    super("CONFLICT", message, details);
  }
}

/** The request is well-formed but the world is not in a state that allows it (failed prechecks, untrusted host). */
export class PreconditionError extends DomainError {
  constructor(message: string, details?: unknown) {
    super("PRECONDITION_FAILED", message, details);
  }
}

/** No valid credentials came with the request (or they expired, or were revoked). */
export class UnauthenticatedError extends DomainError {
  constructor(message = "log in or send an API token") {
    super("UNAUTHENTICATED", message);
  }
}

/** Credentials are fine but their role does not allow this, or the request failed a CSRF/Origin check. */
export class ForbiddenError extends DomainError {
  constructor(message: string, code = "FORBIDDEN") {
    super(code, message);
  }
}

/** The Host header names no name this server is served under (DNS rebinding, a misrouted proxy). */
export class MisdirectedRequestError extends DomainError {
  constructor(message: string) {
    super("MISDIRECTED_REQUEST", message);
  }
}

export class UnsupportedMediaTypeError extends DomainError {
  constructor(message: string) {
    super("UNSUPPORTED_MEDIA_TYPE", message);
  }
}

export class TooManyRequestsError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super("TOO_MANY_REQUESTS", message, { retryAfterSeconds });
  }
}

/**
 * A hypervisor failed us: unreachable, refused our key, a command failed or timed out. The HTTP answer is 502 (504
 * for a timeout) with a message naming the host only by its registered name (`hostName`, set by whoever knows it);
 * the full message (address, command line, stderr) goes to the server log only.
 */
export class UpstreamError extends DomainError {
  /** The host's name in our database, when the caller knew which host this was. */
  hostName?: string;
  constructor(
    code: string,
    message: string,
    details?: unknown,
    readonly timedOut = false,
  ) {
    super(code, message, details);
  }
}

/** What an upstream failure may say in a response: the kind of failure and the host's registered name. */
export function upstreamSummary(err: UpstreamError): string {
  const host = err.hostName ? `host ${err.hostName}` : "a hypervisor";
  switch (err.code) {
    case "HOST_UNREACHABLE":
      return `${host} could not be reached`;
    case "HOST_AUTH_FAILED":
      return `${host} refused our SSH key`;
    case "HOST_CONNECTION_LOST":
    case "HOST_CONNECTION_CLOSED":
      return `the connection to ${host} was lost`;
    case "REMOTE_COMMAND_TIMEOUT":
      return `a command on ${host} timed out`;
    default:
      return `a command failed on ${host}`;
  }
}

/** The body message of a 502/504: the summary and where the details are. */
export const publicUpstreamMessage = (err: UpstreamError, requestId: string): string =>
  `${upstreamSummary(err)}; see the server log, request id ${requestId}`;

/** The message of anything thrown (not every throw is an Error). */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A thrown value's `code` (DomainError, SSH and system errors carry one), else its class name. */
export function codeOf(err: unknown): string {
  if (typeof err === "object" && err !== null && "code" in err && err.code) return String(err.code);
  return err instanceof Error && err.name ? err.name : "ERROR";
}

export const statusOf = (err: DomainError): number => {
  if (err instanceof NotFoundError) return 404;
  if (err instanceof InvalidInputError) return 400;
  if (err instanceof ConflictError) return 409;
  if (err instanceof PreconditionError) return 422;
  if (err instanceof UnauthenticatedError) return 401;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof TooManyRequestsError) return 429;
  if (err instanceof MisdirectedRequestError) return 421;
  if (err instanceof UnsupportedMediaTypeError) return 415;
  if (err instanceof UpstreamError) return err.timedOut ? 504 : 502;
  if (err.code === "HOST_KEY_MISMATCH") return 422;
  return 500;
};

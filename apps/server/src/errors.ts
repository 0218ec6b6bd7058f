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
  return 500;
};

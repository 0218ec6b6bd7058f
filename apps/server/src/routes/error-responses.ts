import { ErrorBody } from "@blockferry/contracts";

/** Failures a route may answer before or besides its own: bad input, no or too few credentials. */
export const requestErrors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody };

/**
 * The same and what a route that reaches a hypervisor adds: 422 (a precondition, e.g. an untrusted host), 502/504
 * (a hypervisor failed or timed out: the body names the host, never its address or the command) and 500.
 */
export const hostErrors = { ...requestErrors, 422: ErrorBody, 500: ErrorBody, 502: ErrorBody, 504: ErrorBody };

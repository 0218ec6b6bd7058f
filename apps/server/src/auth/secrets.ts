import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** 256 random bits, URL-safe: session cookies, CSRF tokens, API tokens, the setup token. */
export const randomToken = (): string => randomBytes(32).toString("base64url");

/** Tokens carry 256 random bits, so one fast hash is enough to make a stolen database useless for logging in. */
export const tokenHash = (token: string): string => createHash("sha256").update(token).digest("hex");

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

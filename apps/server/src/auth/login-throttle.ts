/**
 * Failed logins per username (known or not, so the answer reveals nothing): after `maxFailures` within
 * `windowMs` the name is locked until the window ends. Addresses are limited separately (@fastify/rate-limit).
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly maxFailures = 5,
    private readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `username` may try again; 0 when it may now. */
  retryAfterMs(username: string): number {
    const f = this.current(username);
    return f && f.count >= this.maxFailures ? f.since + this.windowMs - this.now() : 0;
  }

  failed(username: string): void {
    const f = this.current(username) ?? { count: 0, since: this.now() };
    f.count++;
    this.failures.set(username.toLowerCase(), f);
    if (this.failures.size > 10_000) this.prune();
  }

  succeeded(username: string): void {
    this.failures.delete(username.toLowerCase());
  }

  private current(username: string) {
    const f = this.failures.get(username.toLowerCase());
    if (f && this.now() - f.since >= this.windowMs) {
      this.failures.delete(username.toLowerCase());
      return undefined;
    }
    return f;
  }

  private prune(): void {
    for (const [name, f] of this.failures) if (this.now() - f.since >= this.windowMs) this.failures.delete(name);
  }
}

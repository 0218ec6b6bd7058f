/**
 * Token bucket shared by every stream of a copy. The rate can change while running (null = unlimited);
 * a change applies to the next chunk. The bucket holds at most a quarter second of credit, so a raised
 * limit does not release a burst.
 */
export class RateLimiter {
  private rate: number | null;
  private tokens = 0;
  private last = performance.now();

  constructor(bytesPerSecond: number | null = null) {
    this.rate = RateLimiter.check(bytesPerSecond);
  }

  private static check(v: number | null): number | null {
    if (v !== null && !(Number.isFinite(v) && v > 0))
      throw new RangeError(`bandwidth must be a positive number of bytes/s or null, got ${v}`);
    return v;
  }

  get bytesPerSecond(): number | null {
    return this.rate;
  }

  set(bytesPerSecond: number | null): void {
    this.refill();
    this.rate = RateLimiter.check(bytesPerSecond);
    if (this.rate !== null) this.tokens = Math.min(this.tokens, this.rate / 4);
  }

  private refill(): void {
    const now = performance.now();
    if (this.rate !== null) this.tokens = Math.min(this.rate / 4, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Waits until `bytes` may pass. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      this.refill();
      if (this.rate === null) return;
      if (this.tokens >= 0) {
        this.tokens -= bytes; // may go negative: a big chunk is paid for by waiting afterwards
        return;
      }
      const waitMs = Math.min(250, Math.max(1, (-this.tokens / this.rate) * 1000));
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }
}

/** A counting semaphore with FIFO waiters that can give up (AbortSignal). */
export class Semaphore {
  private active = 0;
  private peakActive = 0;
  private readonly waiters: Array<{ grant: () => void }> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore limit must be >= 1, got ${limit}`);
  }

  get inUse(): number {
    return this.active;
  }
  get peak(): number {
    return this.peakActive;
  }
  get queued(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function once a slot is free. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        this.active++;
        this.peakActive = Math.max(this.peakActive, this.active);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.active--;
          this.waiters.shift()?.grant();
        });
      };
      const waiter = { grant };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      if (this.active < this.limit) grant();
      else {
        this.waiters.push(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      }
    });
  }
}

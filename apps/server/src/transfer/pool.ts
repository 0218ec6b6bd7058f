/**
 * `work` for every item with at most `limit` in flight, in order of issue. The first failure (or an abort of
 * `signal`) stops issuing and aborts the signal handed to the work still running; that work is waited for (at
 * most `graceMs` after the stop when given, e.g. SFTP requests whose handles are closed afterwards), so none of
 * ours is still running once this settles. Throws the abort reason first, then the first failure.
 */
export async function eachWithLimit<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal | undefined,
  work: (item: T, index: number, signal: AbortSignal) => Promise<void>,
  graceMs?: number,
): Promise<void> {
  const stop = new AbortController();
  const sig = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let next = 0;
  let failure: unknown;
  const lane = async () => {
    while (!sig.aborted && next < items.length) {
      const i = next++;
      try {
        await work(items[i] as T, i, sig);
      } catch (e) {
        if (failure === undefined) failure = e;
        stop.abort(e);
      }
    }
  };
  const lanes = Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (graceMs === undefined) await lanes;
  else {
    const grace = graceAfterAbort(sig, graceMs);
    try {
      await Promise.race([lanes, grace.promise]);
    } finally {
      grace.dispose();
    }
  }
  signal?.throwIfAborted();
  if (failure !== undefined) throw failure;
}

/** Resolves `ms` after `signal` aborts (never if it does not). */
function graceAfterAbort(signal: AbortSignal, ms: number): { promise: Promise<void>; dispose(): void } {
  let timer: NodeJS.Timeout | undefined;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  const onAbort = () => {
    timer = setTimeout(resolve, ms);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    promise,
    dispose: () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    },
  };
}

// Remote processes of one batch: started together, and on any failure killed (by process group) before the
// failure is rethrown, so nothing of ours keeps running on either host.
import type { RemoteProcess, TransferHost } from "./host.ts";
import { settleWithin } from "./settle.ts";

/**
 * Starts both processes, relays and collects; on any failure kills both (the per-batch abort) before
 * rethrowing, so nothing of ours keeps running on either host.
 */
export async function withProcesses<T>(
  signal: AbortSignal,
  body: (sig: AbortSignal, started: RemoteProcess[]) => Promise<T>,
): Promise<T> {
  const kill = new AbortController();
  const sig = AbortSignal.any([signal, kill.signal]);
  const started: RemoteProcess[] = [];
  try {
    return await body(sig, started);
  } catch (e) {
    kill.abort(e);
    // Kill by process group, over another channel (the hosts layer drains the output nobody reads any more).
    // Both waits are bounded: a cancel that hangs in the hosts layer must not hang the copy's failure.
    await Promise.allSettled(
      started.map(async (p) => {
        await settleWithin(p.cancel(), 3000);
        await settleWithin(p.done, 3000);
      }),
    );
    throw e;
  }
}

export async function start(
  host: TransferHost,
  command: string,
  sig: AbortSignal,
  started: RemoteProcess[],
): Promise<RemoteProcess> {
  const p = await host.execStream(command, { signal: sig });
  p.done.catch(() => undefined); // observed through Promise.all below; never an unhandled rejection
  started.push(p);
  return p;
}

/** Starts two commands at once (exec latency matters); both end up in `started` so a failure kills both. */
export async function startBoth(
  sig: AbortSignal,
  started: RemoteProcess[],
  a: [TransferHost, string],
  b: [TransferHost, string],
): Promise<[RemoteProcess, RemoteProcess]> {
  const [pa, pb] = await Promise.allSettled([start(a[0], a[1], sig, started), start(b[0], b[1], sig, started)]);
  if (pa.status === "rejected") throw pa.reason;
  if (pb.status === "rejected") throw pb.reason;
  return [pa.value, pb.value];
}

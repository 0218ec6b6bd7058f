import type { HostShell } from "./context.ts";

export class TargetLostError extends Error {
  readonly code = "TARGET_LOST";
}

/**
 * Watches the target while the VM is down: a dead host does not always fail our commands (a powered-off machine
 * leaves TCP connections hanging until keepalive gives up). The returned signal aborts once the target has not
 * answered a probe for `lostAfterMs`, so the outage phase stops and the job can roll back in time. Progress of
 * a copy counts as an answer (`heard`): a busy copy may hold every channel slot, and the probe then waits for one.
 */
export function guardTarget(target: HostShell, lostAfterMs: number, parent: AbortSignal) {
  const lost = new AbortController();
  const stopped = new AbortController();
  const probeSignal = AbortSignal.any([parent, stopped.signal]);
  const intervalMs = Math.max(250, Math.min(5000, lostAfterMs / 4));
  let lastAnswer = Date.now();
  let probing = false;
  const probe = async () => {
    probing = true;
    try {
      await target.run("true", { timeoutMs: lostAfterMs, signal: probeSignal });
      lastAnswer = Date.now();
    } catch {
      // a miss: the clock decides
    } finally {
      probing = false;
    }
  };
  const timer = setInterval(() => {
    const silentMs = Date.now() - lastAnswer;
    if (silentMs >= lostAfterMs) {
      lost.abort(new TargetLostError(`${target.name} has not answered for ${Math.round(silentMs / 1000)} s`));
      clearInterval(timer);
    } else if (!probing) void probe();
  }, intervalMs);
  timer.unref();
  return {
    signal: lost.signal,
    heard() {
      lastAnswer = Date.now();
    },
    stop() {
      clearInterval(timer);
      stopped.abort();
    },
  };
}

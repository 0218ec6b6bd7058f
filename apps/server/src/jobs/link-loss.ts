// What a copy does when the source's own link to the target dies mid copy (a DirectLinkError): the journal keeps
// every confirmed range, so whichever way the rest goes, nothing confirmed is sent again and nothing unconfirmed
// counts as copied. Pure: the mover does the re-open, the waits and the logging.

/** The source-to-target link stayed down too long for `direct`: the job fails with this. */
export class DirectLinkLostError extends Error {
  override readonly name = "DirectLinkLostError";
}

export interface LinkLoss {
  mode: "auto" | "direct";
  /** `lab1 to lab2 at 10.77.0.2:22`: which hosts and which link, for the log and the error. */
  link: string;
  /** How the link was lost (the last DirectLinkError's message). */
  lost: string;
  /** Since the first loss of this streak (a copy that confirmed ranges since its last loss starts a new one). */
  lostForMs: number;
  windowMs: number;
  /** Re-opens tried in this streak before this one. */
  tries: number;
  /** Why the re-open just tried failed (its prechecks or access grant); absent when it succeeded. */
  reopenError?: string;
}

export type LinkLossStep =
  | { next: "direct" }
  | { next: "relay"; reason: string }
  | { next: "wait"; ms: number }
  | { next: "fail"; error: DirectLinkLostError };

/** Longest wait between two re-opens of `direct`: the link is usually back within seconds, or down for minutes. */
const MAX_WAIT_MS = 10_000;

/**
 * After a lost link and one re-open of the direct path: carry on direct when the re-open worked (and the
 * streak is within the transient window); else `auto` takes the relay for the rest of the copy, and `direct`
 * tries again within the window and then fails, naming the hosts and the link.
 */
export function afterLinkLoss(s: LinkLoss): LinkLossStep {
  const within = s.lostForMs < s.windowMs;
  if (within && s.reopenError === undefined) return { next: "direct" };
  const why =
    s.reopenError !== undefined
      ? `re-opening it failed: ${s.reopenError}`
      : `it kept failing for ${Math.round(s.lostForMs / 1000)} s`;
  if (s.mode === "auto")
    return { next: "relay", reason: `direct link ${s.link} lost (${s.lost}); ${why}: the relay takes the rest` };
  if (within) return { next: "wait", ms: Math.min(MAX_WAIT_MS, 1000 * 2 ** s.tries, s.windowMs - s.lostForMs) };
  return {
    next: "fail",
    error: new DirectLinkLostError(
      `direct link ${s.link} lost and not back within ${Math.round(s.windowMs / 1000)} s (${s.lost}); ${why}`,
    ),
  };
}

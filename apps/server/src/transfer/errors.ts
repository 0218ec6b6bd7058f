/** The byte stream from the source ended before (or ran past) the bytes asked for: never counted as success. */
export class TruncatedStreamError extends Error {
  override readonly name = "TruncatedStreamError";
  constructor(
    readonly host: string,
    readonly expected: number,
    readonly received: number,
  ) {
    super(
      `${host}: source stream ${received < expected ? "ended early" : "ran long"}: ${received} of ${expected} bytes`,
    );
  }
}

/** The destination's read-back did not match what the source sent, after every retry. */
export class VerifyMismatchError extends Error {
  override readonly name = "VerifyMismatchError";
  constructor(
    readonly offset: number,
    readonly length: number,
    detail: string,
  ) {
    super(`verification failed for bytes ${offset}..${offset + length}: ${detail}`);
  }
}

/** A remote tool printed something other than what the template promises. */
export class RemoteOutputError extends Error {
  override readonly name = "RemoteOutputError";
}

/**
 * The source's own SSH connection to the target died during a direct batch (ssh exit 255, a ServerAlive timeout,
 * or a stream that ended before every block was reported): the data path is gone, not the data. The mover
 * re-opens the path (or falls back to the relay) and carries on from the journal.
 */
export class DirectLinkError extends Error {
  override readonly name = "DirectLinkError";
  constructor(
    /** The source host, as the transfer layer names it. */
    readonly source: string,
    /** ssh's own words, or how the batch ended early. */
    detail: string,
  ) {
    super(detail);
  }
}

// The transfer engine as a test double: it records what the phases ask it to copy (the engine itself is tested
// against a real sshd elsewhere). `during` lets a test act inside a copy: make the VM write, overflow a
// snapshot, wait for the copy's abort, or fail like a crash.
import type { Run } from "@blockferry/changes";
import type { CopyRequest, CopySummary, Mover, VerifyRequest } from "../../src/jobs/context.ts";

export interface CopyCall {
  kind: "full" | "extents";
  pass: string;
  from: string;
  to: string;
  targetReadsZero: boolean;
  bytes?: number;
  chunkBytes?: number;
  runs?: Run[];
  /** The lease the copy's journal writes counters under. */
  lease?: CopyRequest["lease"];
}

export class RecordingMover implements Mover {
  readonly calls: CopyCall[] = [];
  /** Verify requests, in order; every range verifies unless `mismatched` names some. */
  readonly verifies: VerifyRequest[] = [];
  mismatched: Array<readonly [number, number]> = [];
  during?: (call: CopyCall, signal: AbortSignal) => Promise<void> | void;

  async copyFull(o: CopyRequest & { bytes: number }): Promise<CopySummary> {
    return this.copy(o, { kind: "full", bytes: o.bytes }, o.bytes);
  }

  async copyExtents(o: Parameters<Mover["copyExtents"]>[0]): Promise<CopySummary> {
    const bytes = o.extents.byteCount(o.chunkBytes);
    return this.copy(o, { kind: "extents", chunkBytes: o.chunkBytes, runs: o.extents.toJSON() }, bytes);
  }

  async verify(o: VerifyRequest): Promise<{ rangesChecked: number; mismatched: Array<readonly [number, number]> }> {
    this.verifies.push(o);
    o.signal.throwIfAborted();
    return { rangesChecked: o.extents ? o.extents.map.toJSON().length : 1, mismatched: this.mismatched };
  }

  private async copy(
    o: CopyRequest,
    what: Pick<CopyCall, "kind" | "bytes" | "chunkBytes" | "runs">,
    bytes: number,
  ): Promise<CopySummary> {
    const call: CopyCall = {
      pass: o.pass,
      from: o.source.device,
      to: o.target.device,
      targetReadsZero: o.targetReadsZero,
      lease: o.lease,
      ...what,
    };
    this.calls.push(call);
    await this.during?.(call, o.signal);
    o.signal.throwIfAborted();
    o.onProgress({
      bytesDone: bytes,
      bytesTotal: bytes,
      rangesDone: 1,
      rangesTotal: 1,
      bytesPerSecond: 0,
      etaSeconds: 0,
    });
    return { rangesTotal: 1, rangesAlreadyDone: 0, bytesRead: bytes, bytesSent: bytes };
  }
}

/** Resolves never; rejects with the signal's reason once it aborts: a copy that runs until something stops it. */
export const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });

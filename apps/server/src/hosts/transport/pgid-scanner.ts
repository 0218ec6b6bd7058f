import { PGID_MARKER } from "@blockferry/lvm";

const MARKER = Buffer.from(PGID_MARKER, "latin1");

/**
 * Finds the process-group marker line in a command's stderr and passes every other byte through unchanged.
 * The marker need not come first: a login shell may print noise (a noisy ~/.bashrc) before our wrapper runs.
 */
export class PgidScanner {
  private head: Buffer | null = Buffer.alloc(0);

  constructor(
    private readonly onPgid: (pgid: number | null) => void,
    private readonly onData: (chunk: Buffer) => void,
    /** Give up looking after this many bytes without a marker. */
    private readonly limit = 64 * 1024,
  ) {}

  push(chunk: Buffer): void {
    if (this.head === null) {
      if (chunk.length) this.onData(chunk);
      return;
    }
    const buf = Buffer.concat([this.head, chunk]);
    const at = buf.indexOf(MARKER);
    const nl = at < 0 ? -1 : buf.indexOf(10, at);
    if (at >= 0 && nl >= 0) {
      this.head = null;
      const id = Number(buf.subarray(at + MARKER.length, nl).toString("latin1"));
      this.onPgid(Number.isInteger(id) && id > 1 ? id : null);
      const rest = Buffer.concat([buf.subarray(0, at), buf.subarray(nl + 1)]);
      if (rest.length) this.onData(rest);
      return;
    }
    // No complete marker yet: release whole lines that cannot be (part of) it, keep the rest.
    const keepFrom = at >= 0 ? at : Math.max(buf.lastIndexOf(10) + 1, 0);
    if (keepFrom > 0) this.onData(buf.subarray(0, keepFrom));
    this.head = buf.subarray(keepFrom);
    if (this.head.length > this.limit) this.end();
  }

  /** The stream ended (or we gave up): whatever is held is ordinary stderr. */
  end(): void {
    const held = this.head;
    if (held === null) return;
    this.head = null;
    this.onPgid(null);
    if (held.length) this.onData(held);
  }
}

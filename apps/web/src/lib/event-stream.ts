import type { ProgressMessage, ServerMessage, StoredEvent } from "@blockferry/contracts";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "closed";

export interface StreamHandlers {
  /** Each stored event exactly once, in id order, across reconnects. */
  event(e: StoredEvent): void;
  progress?(p: ProgressMessage): void;
  status?(s: StreamStatus, detail?: string): void;
}

/** The part of the WebSocket API we use; the browser's and the `ws` package's both fit. */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}
export type SocketFactory = (url: string) => SocketLike;

export interface EventStreamOptions {
  /** Absolute ws(s):// URL of /api/events/stream, or a path resolved against the page. */
  url: string;
  jobId?: number;
  /** Resume after this event id (0: from the beginning). */
  after?: number;
  connect?: SocketFactory;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Follows the server's event stream. On any disconnect it reconnects with exponential backoff (with jitter, so a
 * restarted server is not hit by every tab at once) and resumes after the last event id it delivered, so the
 * handlers see no gap and no duplicate.
 */
export class EventStream {
  private socket: SocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private closed = false;
  private last: number;

  constructor(
    private readonly opts: EventStreamOptions,
    private readonly handlers: StreamHandlers,
  ) {
    this.last = opts.after ?? 0;
  }

  /** The id of the last event delivered: where a reconnect resumes. */
  get lastId(): number {
    return this.last;
  }

  start(): this {
    this.open();
    return this;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const s = this.socket;
    this.socket = null;
    s?.close(1000, "done");
    this.handlers.status?.("closed");
  }

  private url(): string {
    const q = new URLSearchParams();
    if (this.opts.jobId !== undefined) q.set("jobId", String(this.opts.jobId));
    q.set("after", String(this.last));
    let base = this.opts.url;
    if (base.startsWith("/")) {
      const loc = globalThis.location;
      base = `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}${base}`;
    }
    return `${base}?${q}`;
  }

  private open(): void {
    if (this.closed) return;
    this.handlers.status?.(this.failures === 0 ? "connecting" : "reconnecting");
    const connect = this.opts.connect ?? ((u: string) => new WebSocket(u) as unknown as SocketLike);
    let socket: SocketLike;
    try {
      socket = connect(this.url());
    } catch (err) {
      this.scheduleReconnect(String(err));
      return;
    }
    this.socket = socket;
    socket.onmessage = (ev) => {
      if (this.socket !== socket) return;
      this.receive(ev.data);
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.scheduleReconnect(ev.reason || `closed (${ev.code})`);
    };
    socket.onerror = () => {
      // onclose follows and reconnects; nothing to do here.
    };
  }

  private receive(raw: unknown): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(typeof raw === "string" ? raw : String(raw)) as ServerMessage;
    } catch {
      return;
    }
    switch (msg.kind) {
      case "event":
        // A replay after reconnect can overlap what we already delivered: the id is the dedupe key.
        if (msg.event.id <= this.last) return;
        this.last = msg.event.id;
        this.handlers.event(msg.event);
        return;
      case "progress":
        this.handlers.progress?.(msg.progress);
        return;
      case "ready":
        this.failures = 0;
        this.handlers.status?.("live");
        return;
      case "error":
        this.handlers.status?.("reconnecting", msg.message);
        return;
    }
  }

  private scheduleReconnect(detail: string): void {
    if (this.closed) return;
    this.failures++;
    const initial = this.opts.initialBackoffMs ?? 250;
    const max = this.opts.maxBackoffMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** (this.failures - 1));
    const delay = base / 2 + Math.random() * (base / 2);
    this.handlers.status?.("reconnecting", detail);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
  }
}

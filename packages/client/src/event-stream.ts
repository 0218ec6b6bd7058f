import type { ProgressMessage, StoredEvent } from "@blockferry/contracts";
import { parseServerMessage } from "./server-message.ts";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "closed";

export interface StreamHandlers {
  /** Each stored event exactly once, in id order, across reconnects. */
  event(e: StoredEvent): void;
  progress?(p: ProgressMessage): void;
  status?(s: StreamStatus, detail?: string): void;
}

/** What the stream hears from one socket. */
export interface SocketEvents {
  message(data: unknown): void;
  close(code: number, reason: string): void;
}
/** Opens one socket to `url` and reports to `events`; the browser's and `ws`'s WebSocket both fit via socketFactory. */
export type SocketFactory = (url: string, events: SocketEvents) => { close(code?: number, reason?: string): void };

/** The part of a WebSocket the stream uses; generic in its event types, so both the DOM's and `ws`'s fit. */
export interface WebSocketLike<M extends { data: unknown }, C extends { code: number; reason: string }> {
  onmessage: ((ev: M) => void) | null;
  onclose: ((ev: C) => void) | null;
  // `never`: any event type fits, and the stream never reads it.
  onerror: ((ev: never) => void) | null;
  close(code?: number, reason?: string): void;
}

/** A SocketFactory from a WebSocket constructor call: `socketFactory((url) => new WebSocket(url))`. */
export function socketFactory<M extends { data: unknown }, C extends { code: number; reason: string }>(
  create: (url: string) => WebSocketLike<M, C>,
): SocketFactory {
  return (url, events) => {
    const socket = create(url);
    socket.onmessage = (ev) => events.message(ev.data);
    // An error is always followed by close, which is where the stream reconnects. The handler must exist all the
    // same: `ws` is an EventEmitter, and an 'error' nobody listens to is thrown (a refused reconnect then kills it).
    socket.onerror = () => {};
    socket.onclose = (ev) => events.close(ev.code, ev.reason);
    return socket;
  };
}

export interface EventStreamOptions {
  /** Absolute ws(s):// URL of /api/events/stream. */
  url: string;
  jobId?: number;
  /** Resume after this event id (0: from the beginning). */
  after?: number;
  connect: SocketFactory;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * Follows the server's event stream. On any disconnect it reconnects with exponential backoff (with jitter, so a
 * restarted server is not hit by every client at once) and resumes after the last event id it delivered, so the
 * handlers see no gap and no duplicate.
 */
export class EventStream {
  private socket: ReturnType<SocketFactory> | null = null;
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
    return `${this.opts.url}?${q}`;
  }

  private open(): void {
    if (this.closed) return;
    this.handlers.status?.(this.failures === 0 ? "connecting" : "reconnecting");
    let socket: ReturnType<SocketFactory> | null = null;
    try {
      socket = this.opts.connect(this.url(), {
        message: (data) => {
          if (this.socket === socket) this.receive(data);
        },
        close: (code, reason) => {
          if (this.socket !== socket) return;
          this.socket = null;
          this.scheduleReconnect(reason || `closed (${code})`);
        },
      });
    } catch (err) {
      this.scheduleReconnect(String(err));
      return;
    }
    this.socket = socket;
  }

  private receive(raw: unknown): void {
    const msg = parseServerMessage(raw);
    if (!msg) return;
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

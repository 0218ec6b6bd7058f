import type { EventData, EventType, ProgressMessage, StoredEvent } from "@blockferry/contracts";
import type { EventsRepo } from "../db/repositories/events.ts";
import { ProgressThrottle } from "./progress-throttle.ts";

export interface EventFilter {
  /** Only this job's events; all jobs (and host events) when absent. */
  jobId?: number;
}

export interface EventListener {
  event(e: StoredEvent): void;
  progress(p: ProgressMessage): void;
}

/**
 * The only way anything reaches a browser. Events are stored first, then pushed to live listeners;
 * progress is live-only and throttled per job (the exact counters live on the job row).
 */
export class EventHub {
  private readonly listeners = new Map<EventListener, EventFilter>();
  private readonly throttle: ProgressThrottle;

  constructor(
    private readonly repo: Pick<EventsRepo, "append" | "listAfter">,
    opts: { progressIntervalMs?: number } = {},
  ) {
    this.throttle = new ProgressThrottle(opts.progressIntervalMs ?? 100, (p) => this.fanOutProgress(p));
  }

  append<T extends EventType>(jobId: number | null, type: T, data: EventData<T>): StoredEvent {
    const event = this.repo.append(jobId, type, data);
    for (const [listener, filter] of this.listeners) {
      if (filter.jobId === undefined || filter.jobId === event.jobId) listener.event(event);
    }
    return event;
  }

  /** Offer a progress update; listeners see at most one per job per interval, always the latest. */
  progress(p: ProgressMessage): void {
    this.throttle.offer(p);
  }

  /** Flush a job's pending progress now (e.g. at the end of a phase). */
  flushProgress(jobId: number): void {
    this.throttle.flush(jobId);
  }

  /** Live events and progress from now on; the caller replays what is stored itself. */
  subscribe(filter: EventFilter, listener: EventListener): () => void {
    this.listeners.set(listener, filter);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Replays stored events after `after`, then follows live ones. Replay and subscription happen in one
   * synchronous step (better-sqlite3 is synchronous), so no event can slip between them.
   */
  follow(filter: EventFilter, after: number, listener: EventListener): () => void {
    let cursor = after;
    for (;;) {
      const page = this.repo.listAfter(cursor, { jobId: filter.jobId, limit: 500 });
      for (const e of page) listener.event(e);
      if (page.length < 500) break;
      cursor = page[page.length - 1]?.id ?? cursor;
    }
    this.listeners.set(listener, filter);
    return () => {
      this.listeners.delete(listener);
    };
  }

  close(): void {
    this.throttle.close();
    this.listeners.clear();
  }

  private fanOutProgress(p: ProgressMessage): void {
    for (const [listener, filter] of this.listeners) {
      if (filter.jobId === undefined || filter.jobId === p.jobId) listener.progress(p);
    }
  }
}

import type { ProgressMessage, ServerMessage, StoredEvent } from "@blockferry/contracts";

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/**
 * One websocket frame as a ServerMessage, or null when it is not one. Every client reads frames through here.
 * The envelope is checked field by field; an event's `data` and a progress message's counters are the server's
 * contract (same package version), and checking them in full would need the TypeBox runtime in the dashboard.
 */
export function parseServerMessage(raw: unknown): ServerMessage | null {
  let msg: unknown;
  try {
    msg = JSON.parse(typeof raw === "string" ? raw : String(raw));
  } catch {
    return null;
  }
  if (!isRecord(msg)) return null;
  switch (msg.kind) {
    case "event":
      return isStoredEvent(msg.event) ? { kind: "event", event: msg.event } : null;
    case "progress":
      return isProgress(msg.progress) ? { kind: "progress", progress: msg.progress } : null;
    case "ready":
      return typeof msg.lastId === "number" ? { kind: "ready", lastId: msg.lastId } : null;
    case "error":
      return typeof msg.message === "string" ? { kind: "error", message: msg.message } : null;
    default:
      return null;
  }
}

function isStoredEvent(e: unknown): e is StoredEvent {
  return (
    isRecord(e) &&
    typeof e.id === "number" &&
    (typeof e.jobId === "number" || e.jobId === null) &&
    typeof e.seq === "number" &&
    typeof e.type === "string" &&
    typeof e.at === "string" &&
    "data" in e
  );
}

function isProgress(p: unknown): p is ProgressMessage {
  return isRecord(p) && typeof p.jobId === "number" && typeof p.phase === "string" && typeof p.bytesDone === "number";
}

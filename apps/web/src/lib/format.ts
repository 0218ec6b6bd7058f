/** Human figures for operators: binary units, short durations, local times. Pure functions, tested in test/format.test.ts. */
import { humanBytes } from "@blockferry/contracts/units";
import { isJobState, isPhase, JOB_STATE_LABELS, PHASE_LABELS } from "./job-vocabulary.ts";

const MiB = 1024 * 1024;

/** Bytes in binary units with the unit named: 1.93 GiB, 512 B. The exact count goes in a tooltip (exactBytes). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return humanBytes(n);
}

/** The exact count for a tooltip, grouped the locale's way: "2,076,180,480 bytes". */
export function exactBytes(n: number | null | undefined, locale?: string): string | undefined {
  if (n === null || n === undefined || !Number.isFinite(n)) return undefined;
  return `${new Intl.NumberFormat(locale).format(n)} ${Math.abs(n) === 1 ? "byte" : "bytes"}`;
}

export function formatRate(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined) return "–";
  return `${formatBytes(bytesPerSecond)}/s`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min`;
}

/**
 * A duration that is only a guess, rounded to what a guess can promise: "about 5 s", "about 1 min",
 * "about 2 h 10 min". Never a tenth of a second.
 */
export function formatApproxDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 1) return "under 1 s";
  if (seconds < 59.5) return `about ${Math.round(seconds)} s`;
  const m = Math.round(seconds / 60);
  if (m < 60) return `about ${m} min`;
  // Past an hour, to five minutes.
  const fives = Math.round(seconds / 300) * 5;
  const h = Math.floor(fives / 60);
  return fives % 60 === 0 ? `about ${h} h` : `about ${h} h ${fives % 60} min`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  return ms < 1000 ? `${Math.round(ms)} ms` : formatDuration(ms / 1000);
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();
function dateTimeFormat(locale: string | undefined, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale ?? ""}|${JSON.stringify(options)}`;
  let f = timeFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, options);
    timeFormats.set(key, f);
  }
  return f;
}

/**
 * A date and time in the browser's locale (no locale given: the browser's), with the month spelled out so that
 * no reader has to guess whether 12/2 is December or February: "2 Dec 2026, 15:04:05" / "Dec 2, 2026, 3:04:05 PM".
 */
export function formatTime(iso: string | null | undefined, locale?: string): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return dateTimeFormat(locale, { dateStyle: "medium", timeStyle: "medium" }).format(d);
}

/** A time of day in the browser's locale, for log lines and phase starts. */
export function formatClock(iso: string | null | undefined, locale?: string): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return dateTimeFormat(locale, { timeStyle: "medium" }).format(d);
}

export function percent(done: number, total: number): number {
  return total > 0 ? Math.min(100, (done / total) * 100) : 0;
}

/** A phase as the dashboard names it; anything else (an older server's phase) readable all the same. */
export const phaseLabel = (phase: string) => (isPhase(phase) ? PHASE_LABELS[phase] : phase.replace(/_/g, " "));
/** A job state as the dashboard names it; anything else readable all the same. */
export const stateLabel = (state: string) => (isJobState(state) ? JOB_STATE_LABELS[state] : state.replace(/_/g, " "));

/**
 * What the wizard assumes a copy runs at before a job has measured anything: the rate the server's prechecks
 * assume too (apps/server/src/jobs/prechecks.ts).
 */
export const ASSUMED_COPY_BYTES_PER_SECOND = 100 * MiB;

/**
 * How long copying `bytes` takes at `assumedBytesPerSecond`, or at the bandwidth limit when that is lower: the
 * slower of the two decides. Null when there is nothing to estimate (unknown size, no usable rate).
 */
export function estimateCopySeconds(
  bytes: number | null | undefined,
  opts: { assumedBytesPerSecond?: number; limitBytesPerSecond?: number | null } = {},
): { seconds: number; bytesPerSecond: number; limited: boolean } | null {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return null;
  const assumed = opts.assumedBytesPerSecond ?? ASSUMED_COPY_BYTES_PER_SECOND;
  const limit = opts.limitBytesPerSecond;
  const limited = limit !== null && limit !== undefined && limit > 0 && limit < assumed;
  const rate = limited ? limit : assumed;
  if (!(rate > 0) || !Number.isFinite(rate)) return null;
  return { seconds: bytes / rate, bytesPerSecond: rate, limited };
}

/** A piece of a server message: plain text, or a figure the dashboard formats itself. */
export type TextPart = string | { bytes: number } | { bytesPerSecond: number } | { ms: number } | { at: string };

// Raw figures as the server writes them into check messages and log lines, the number in group 2.
const FIGURES: { re: RegExp; part: (raw: string) => TextPart; keep: (m: RegExpExecArray) => [string, string] }[] = [
  // "1.93 GiB (2076180480 bytes) free": the server's human figure with its exact count, shown as one figure
  {
    re: /(^|[^\w.])(?:\d+(?:\.\d+)? [KMGTP]iB) \((\d+) bytes\)/y,
    part: (n) => ({ bytes: Number(n) }),
    keep: (m) => [m[1] ?? "", ""],
  },
  // "2076180480 bytes free", "grew it by 4194304 bytes"
  { re: /(^|[^\w.])(\d+) bytes\b/y, part: (n) => ({ bytes: Number(n) }), keep: (m) => [m[1] ?? "", ""] },
  // "the snapshot needs 33554432", "has … bytes, the source 1073741824"
  {
    re: /(\bneeds |\bthe source )(\d+)(?![\w.])/y,
    part: (n) => ({ bytes: Number(n) }),
    keep: (m) => [m[1] ?? "", ""],
  },
  // "bandwidth limit 50.0 MiB/s (52428800 bytes/s)"
  {
    re: /(^|[^\w.])(?:\d+(?:\.\d+)? (?:[KMGTP]i)?B\/s) \((\d+) bytes\/s\)/y,
    part: (n) => ({ bytesPerSecond: Number(n) }),
    keep: (m) => [m[1] ?? "", ""],
  },
  // "bandwidth limit 52428800" (an older server)
  {
    re: /(\bbandwidth limit )(\d+)(?![\w.])/y,
    part: (n) => ({ bytesPerSecond: Number(n) }),
    keep: (m) => [m[1] ?? "", ""],
  },
  // "outage 1234 ms"
  { re: /(\boutage )(\d+) ms\b/y, part: (n) => ({ ms: Number(n) }), keep: (m) => [m[1] ?? "", ""] },
  // "the cutover window opens at 2026-12-03T09:00:00.000Z": a time the browser shows in its own zone and words
  {
    re: /(^|[^\w.:-])(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)(?!\w)/y,
    part: (iso) => ({ at: iso }),
    keep: (m) => [m[1] ?? "", ""],
  },
];

// Internal keys with an underscore (final_delta, waiting_cutover): the ones that read as code when left raw.
const KEYS = new Map<string, string>();
for (const [k, v] of Object.entries(PHASE_LABELS)) if (k.includes("_")) KEYS.set(k, v);
for (const [k, v] of Object.entries(JOB_STATE_LABELS)) if (k.includes("_")) KEYS.set(k, v);
// The hash tools by what they compute (the server's HASH_TOOL_PROBE_COMMAND answers with these ids).
KEYS.set("openssl-sha256", "SHA-256 (openssl)");
const KEY_RE = new RegExp(`(?<![\\w/.-])(${[...KEYS.keys()].join("|")})(?![\\w/.-])`, "g");

/**
 * A server message (a precheck's, a log line) for people: raw byte counts become figures the caller renders in
 * binary units with the exact count at hand, and phase and state keys become their labels. The server's wording
 * is otherwise kept.
 */
export function humanizeText(text: string): TextPart[] {
  const words = text.replace(KEY_RE, (k) => KEYS.get(k) ?? k);
  const parts: TextPart[] = [];
  let plain = "";
  let i = 0;
  outer: while (i < words.length) {
    for (const f of FIGURES) {
      f.re.lastIndex = i;
      const m = f.re.exec(words);
      if (!m) continue;
      const [before, after] = f.keep(m);
      plain += before;
      if (plain) parts.push(plain);
      plain = after;
      parts.push(f.part(m[2] ?? ""));
      i = f.re.lastIndex;
      continue outer;
    }
    plain += words[i];
    i++;
  }
  if (plain) parts.push(plain);
  return parts;
}

/** humanizeText as one string, for places that take no markup (a title attribute, document.title). */
export function humanizeString(text: string): string {
  return humanizeText(text)
    .map((p) =>
      typeof p === "string"
        ? p
        : "bytes" in p
          ? formatBytes(p.bytes)
          : "bytesPerSecond" in p
            ? formatRate(p.bytesPerSecond)
            : "at" in p
              ? formatTime(p.at)
              : formatMs(p.ms),
    )
    .join("");
}

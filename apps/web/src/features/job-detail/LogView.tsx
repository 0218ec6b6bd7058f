import { useLayoutEffect, useRef, useState } from "react";
import { HumanText } from "../../components/Figures.tsx";
import { formatClock } from "../../lib/format.ts";
import type { JobStreamStore } from "./job-stream-store.ts";

const ROW = 20;
const VIEWPORT = 240;
const OVERSCAN = 8;

/**
 * The job log, virtualised: the store keeps a fixed window of lines, and only the rows in view are in the DOM.
 * It follows new lines while scrolled to the bottom and stays put when the operator scrolls up to read.
 */
export function LogView({ store, version }: { store: JobStreamStore; version: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const follow = useRef(true);
  const count = store.logLength;
  const dropped = store.logLines().dropped;

  // biome-ignore lint/correctness/useExhaustiveDependencies: re-run when lines arrive (`version`).
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && follow.current) {
      el.scrollTop = el.scrollHeight;
      setScrollTop(el.scrollTop);
    }
  }, [version, count]);

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + VIEWPORT) / ROW) + OVERSCAN);
  const rows = [];
  for (let i = first; i < last; i++) {
    const line = store.logLine(i);
    if (!line) continue;
    rows.push(
      <li key={line.id} className={`log-line log-${line.level}`} style={{ top: i * ROW }}>
        <time dateTime={line.at}>{formatClock(line.at)}</time>
        <span className="log-level">{line.level}</span>
        <span className="log-msg">
          <HumanText text={line.message} />
        </span>
      </li>,
    );
  }
  return (
    <div>
      {dropped > 0 ? <p className="muted small">{dropped} older lines not shown</p> : null}
      <div
        ref={ref}
        className="log"
        style={{ height: VIEWPORT }}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must take focus so the keyboard can scroll it.
        tabIndex={0}
        role="log"
        aria-label="Job log"
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW;
          setScrollTop(el.scrollTop);
        }}
      >
        {count === 0 ? <p className="muted small pad">No log lines yet.</p> : null}
        <ul className="log-lines" style={{ height: count * ROW }}>
          {rows}
        </ul>
      </div>
    </div>
  );
}

import { exactBytes, formatBytes, formatMs, formatRate, formatTime, humanizeText } from "../lib/format.ts";

/** A byte count in binary units; the exact count on hover. */
export function Bytes({ n, ...rest }: { n: number | null | undefined; "data-testid"?: string }) {
  return (
    <span className="figure" title={exactBytes(n)} {...rest}>
      {formatBytes(n)}
    </span>
  );
}

/** A rate in binary units per second; the exact bytes per second on hover. */
export function Rate({ n }: { n: number | null | undefined }) {
  const exact = exactBytes(n);
  return (
    <span className="figure" title={exact ? `${exact} per second` : undefined}>
      {formatRate(n)}
    </span>
  );
}

/** A server message (precheck, log line) with its raw byte counts and internal keys put in the dashboard's words. */
export function HumanText({ text }: { text: string }) {
  return (
    <>
      {humanizeText(text).map((p, i) =>
        typeof p === "string" ? (
          p
        ) : "bytes" in p ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one fixed string, never reordered.
          <Bytes key={i} n={p.bytes} />
        ) : "bytesPerSecond" in p ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: as above.
          <Rate key={i} n={p.bytesPerSecond} />
        ) : "at" in p ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: as above.
          <time key={i} dateTime={p.at} title={p.at}>
            {formatTime(p.at)}
          </time>
        ) : (
          // biome-ignore lint/suspicious/noArrayIndexKey: as above.
          <span key={i} className="figure">
            {formatMs(p.ms)}
          </span>
        ),
      )}
    </>
  );
}

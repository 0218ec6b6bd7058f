// Several commands in one round trip: each section's stdout, stderr and exit status come back framed by
// marker lines carrying a per-call nonce, so no command output can forge a frame it did not know.
import { InvalidValueError, ParseError } from "./errors.ts";

export type Section = { key: string; command: string };
export type SectionResult = { stdout: string; stderr: string; exitCode: number };

const KEY = /^[a-z0-9_.-]{1,64}$/;
const NONCE = /^[0-9a-f]{16,64}$/;

function check(nonce: string, sections: readonly Section[]): void {
  if (!NONCE.test(nonce))
    throw new InvalidValueError("section nonce", "bad-character", nonce, "16..64 lowercase hex digits");
  for (const s of sections)
    if (!KEY.test(s.key)) throw new InvalidValueError("section key", "bad-character", s.key, "1..64 of a-z 0-9 _ . -");
}

/**
 * One shell script running each command in turn (a failing one does not stop the rest). Each command runs
 * in a subshell with stdin from /dev/null, so an `exit` or a read inside one cannot disturb the others.
 */
export function sectionedCommand(nonce: string, sections: readonly Section[]): string {
  check(nonce, sections);
  const m = `@@bf:${nonce}`;
  return sections
    .map(
      ({ key, command }) =>
        `printf '%s\\n' '${m}:out:${key}'; ` +
        `{ bf_err=$( { ( ${command}\n) </dev/null 2>&1 1>&3; } ); bf_rc=$?; } 3>&1; ` +
        `printf '\\n%s:%s\\n' '${m}:err:${key}' "$bf_rc"; printf '%s' "$bf_err"; printf '\\n%s\\n' '${m}:end:${key}'`,
    )
    .join("\n");
}

export function parseSections(stdout: string, nonce: string): Map<string, SectionResult> {
  const m = `@@bf:${nonce}`;
  const out = new Map<string, SectionResult>();
  let pos = 0;
  while (true) {
    const begin = stdout.indexOf(`${m}:out:`, pos);
    if (begin < 0) break;
    const keyEnd = stdout.indexOf("\n", begin);
    if (keyEnd < 0) throw new ParseError("sectioned output", "truncated section header");
    const key = stdout.slice(begin + m.length + 5, keyEnd);
    const errMark = `\n${m}:err:${key}:`;
    const errAt = stdout.indexOf(errMark, keyEnd);
    if (errAt < 0) throw new ParseError("sectioned output", `section ${key} has no status line`);
    const rcEnd = stdout.indexOf("\n", errAt + errMark.length);
    const endMark = `\n${m}:end:${key}\n`;
    const endAt = stdout.indexOf(endMark, rcEnd);
    if (rcEnd < 0 || endAt < 0) throw new ParseError("sectioned output", `section ${key} is truncated`);
    const exitCode = Number(stdout.slice(errAt + errMark.length, rcEnd));
    if (!Number.isInteger(exitCode)) throw new ParseError("sectioned output", `section ${key} has a bad status`);
    out.set(key, { stdout: stdout.slice(keyEnd + 1, errAt), stderr: stdout.slice(rcEnd + 1, endAt), exitCode });
    pos = endAt + endMark.length;
  }
  return out;
}

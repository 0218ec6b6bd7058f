import { Transform } from "node:stream";
import type { TransferHost } from "../../../src/transfer/host.ts";

/** Records every command line a host was asked to run. */
export function recording(inner: TransferHost, log: string[]): TransferHost {
  return {
    name: inner.name,
    execStream(command, options) {
      log.push(command);
      return inner.execStream(command, options);
    },
  };
}

/** Byte runs a data-read command sent (`r OFFSET LENGTH` of commands that are not block scans). */
export function sentRuns(commands: readonly string[]): [number, number][] {
  return commands
    .filter((c) => !c.includes("split") && !c.includes("w(){"))
    .flatMap((c) => [...c.matchAll(/\br (\d+) (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as [number, number]));
}

/**
 * Flips one byte of data in what the target receives on stdin (for the first `times` record streams): the
 * target then writes something other than what the source sent, as a failing disk or a bug would.
 */
export function corruptingTarget(inner: TransferHost, times: number): TransferHost & { corrupted(): number } {
  let done = 0;
  return {
    name: inner.name,
    corrupted: () => done,
    async execStream(command, options) {
      const p = await inner.execStream(command, options);
      if (!command.includes("while read") || done >= times) return p;
      done++;
      let flipped = false;
      const flip = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          if (!flipped && chunk.length > 100) {
            const copy = Buffer.from(chunk);
            copy[100] = (copy[100] as number) ^ 0xff;
            flipped = true;
            return cb(null, copy);
          }
          cb(null, chunk);
        },
      });
      flip.pipe(p.stdin);
      return { stdout: p.stdout, stdin: flip, done: p.done, cancel: p.cancel };
    },
  };
}

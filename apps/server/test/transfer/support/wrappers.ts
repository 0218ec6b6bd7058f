import { Transform } from "node:stream";
import type { TransferHost } from "../../../src/transfer/host.ts";

/** Records every command line a host was asked to run, and every SFTP read as `sftp-read OFFSET LENGTH`. */
export function recording(inner: TransferHost, log: string[]): TransferHost {
  return {
    name: inner.name,
    execStream(command, options) {
      log.push(command);
      return inner.execStream(command, options);
    },
    async openFile(path, mode) {
      const f = await inner.openFile(path, mode);
      return {
        ...f,
        read(offset, length, opts) {
          log.push(`sftp-read ${offset} ${length}`);
          return f.read(offset, length, opts);
        },
      };
    },
  };
}

/**
 * Byte runs the source sent: `r OFFSET LENGTH` of data-read commands (not block scans nor target scripts), and
 * SFTP reads.
 */
export function sentRuns(commands: readonly string[]): [number, number][] {
  const runs = (c: string, re: RegExp) =>
    [...c.matchAll(re)].map((m) => [Number(m[1]), Number(m[2])] as [number, number]);
  return commands.flatMap((c) =>
    c.startsWith("sftp-read ")
      ? runs(c, /^sftp-read (\d+) (\d+)$/g)
      : c.includes("split") || c.includes("w(){")
        ? []
        : runs(c, /\br (\d+) (\d+)/g),
  );
}

/** Whether a log from `recording` shows SFTP reads / dd data reads. */
export const usedSftp = (log: readonly string[]) => log.some((c) => c.startsWith("sftp-read "));

/**
 * Flips one byte of data in what the target receives on stdin (for the first `times` record streams): the
 * target then writes something other than what the source sent, as a failing disk or a bug would.
 */
export function corruptingTarget(inner: TransferHost, times: number): TransferHost & { corrupted(): number } {
  let done = 0;
  return {
    name: inner.name,
    corrupted: () => done,
    openFile: (path, mode) => inner.openFile(path, mode),
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

/**
 * For the first `times` SFTP batches: after the batch was written and fsynced, before its page-cache drop and
 * read-back, `flip(offset)` changes the byte at the last offset the batch wrote, as a failing disk would. The test flips it over a second, real connection.
 */
export function flippingTarget(
  inner: TransferHost,
  times: number,
  flip: (offset: number) => Promise<void>,
): TransferHost & { flipped(): number } {
  let done = 0;
  let lastWrite = -1;
  return {
    name: inner.name,
    flipped: () => done,
    async openFile(path, mode) {
      const f = await inner.openFile(path, mode);
      return {
        ...f,
        async write(offset, data, opts) {
          await f.write(offset, data, opts);
          lastWrite = offset;
        },
        // After the batch's writes are durable and before their read-back: the device changed underneath.
        async fsync() {
          const synced = await f.fsync();
          if (done < times && lastWrite >= 0) {
            done++;
            await flip(lastWrite);
          }
          return synced;
        },
      };
    },
    execStream: (command, options) => inner.execStream(command, options),
  };
}

// Range reads and writes over SFTP with big requests and many in flight. OpenSSH's sftp-server answers
// reads of at most 261120 bytes (its limits@openssh.com max-read-length); ssh2's fastGet defaults to 32 KiB
// and createReadStream to one request at a time, both far too slow for disks.
import type { SFTPWrapper } from "ssh2";
import type { HostConnection } from "./connection.ts";
import { SftpError } from "./errors.ts";

export const SFTP_REQUEST_BYTES = 261_120;
export const SFTP_IN_FLIGHT = 64;

/** What packages/changes reads COW metadata through. */
export type ByteSource = { size(): Promise<number>; read(offset: number, length: number): Promise<Uint8Array> };

export type RangeOptions = { requestBytes?: number; inFlight?: number; signal?: AbortSignal };

export type RemoteFile = {
  readonly path: string;
  /** st_size from fstat; 0 for block devices (use `blockdev --getsize64` for those). */
  statSize(): Promise<number>;
  /** Read exactly `length` bytes at `offset` (fewer only at end of file). */
  read(offset: number, length: number, opts?: RangeOptions): Promise<Buffer>;
  /** Write all of `data` at `offset`. */
  write(offset: number, data: Uint8Array, opts?: RangeOptions): Promise<void>;
  close(): Promise<void>;
};

/** Open a remote file or device: "r" to read, "r+" to read and write an existing one, "w" to create/truncate. */
export async function openRemoteFile(
  conn: HostConnection,
  path: string,
  mode: "r" | "r+" | "w" = "r",
): Promise<RemoteFile> {
  const sftp = await conn.sftp();
  const fail = (op: string) => (err: Error) => new SftpError(conn.name, path, op, err.message);
  const handle = await new Promise<Buffer>((resolve, reject) =>
    sftp.open(path, mode, (err, h) => (err ? reject(fail("open")(err)) : resolve(h))),
  );
  let closed = false;
  return {
    path,
    statSize: () =>
      new Promise((resolve, reject) =>
        sftp.fstat(handle, (err, st) => (err ? reject(fail("fstat")(err)) : resolve(st.size))),
      ),
    read: (offset, length, opts) =>
      readRange(sftp, handle, offset, length, opts).catch((e: Error) => {
        throw e instanceof SftpError ? e : fail("read")(e);
      }),
    write: (offset, data, opts) =>
      writeRange(sftp, handle, offset, data, opts).catch((e: Error) => {
        throw e instanceof SftpError ? e : fail("write")(e);
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (closed) return resolve();
        closed = true;
        sftp.close(handle, (err) => (err ? reject(fail("close")(err)) : resolve()));
      }),
  };
}

type Piece = { offset: number; length: number; at: number };

function pieces(offset: number, length: number, requestBytes: number): Piece[] {
  const out: Piece[] = [];
  for (let at = 0; at < length; at += requestBytes)
    out.push({ offset: offset + at, length: Math.min(requestBytes, length - at), at });
  return out;
}

/** Run `work` over `items` with at most `limit` in flight; the first failure stops issuing new work. */
async function pool<T>(
  items: T[],
  limit: number,
  signal: AbortSignal | undefined,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const lane = async () => {
    while (failed === null && next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failed !== null) throw failed;
}

function readOnce(
  sftp: SFTPWrapper,
  handle: Buffer,
  buf: Buffer,
  at: number,
  len: number,
  pos: number,
): Promise<number> {
  return new Promise((resolve, reject) =>
    sftp.read(handle, buf, at, len, pos, (err, n) => {
      // ssh2 reports EOF as an error with code 1 (SSH_FX_EOF)
      if (err && (err as { code?: number }).code === 1) return resolve(0);
      err ? reject(err) : resolve(n);
    }),
  );
}

export async function readRange(
  sftp: SFTPWrapper,
  handle: Buffer,
  offset: number,
  length: number,
  opts: RangeOptions = {},
): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let end = length; // shrinks to the end of file if a read hits EOF
  await pool(
    pieces(offset, length, opts.requestBytes ?? SFTP_REQUEST_BYTES),
    opts.inFlight ?? SFTP_IN_FLIGHT,
    opts.signal,
    async (p) => {
      let done = 0;
      while (done < p.length) {
        const n = await readOnce(sftp, handle, buf, p.at + done, p.length - done, p.offset + done);
        if (n === 0) {
          end = Math.min(end, p.at + done);
          return;
        }
        done += n; // a server may answer short: ask again for the rest
      }
    },
  );
  return end === length ? buf : buf.subarray(0, end);
}

export async function writeRange(
  sftp: SFTPWrapper,
  handle: Buffer,
  offset: number,
  data: Uint8Array,
  opts: RangeOptions = {},
): Promise<void> {
  const src = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  await pool(
    pieces(offset, src.length, opts.requestBytes ?? SFTP_REQUEST_BYTES),
    opts.inFlight ?? SFTP_IN_FLIGHT,
    opts.signal,
    (p) =>
      new Promise<void>((resolve, reject) =>
        sftp.write(handle, src, p.at, p.length, p.offset, (err) => (err ? reject(err) : resolve())),
      ),
  );
}

/**
 * A ByteSource over an open remote file. `sizeOf` supplies the size where fstat cannot (block devices report 0):
 * pass e.g. `() => blockdevSize(host, path)`. After `signal` aborts, reads reject at once with `cancelled()`:
 * an SFTP request cannot be withdrawn, and one stuck on a hung device must not hold its caller.
 */
export function byteSourceOf(
  file: RemoteFile,
  sizeOf?: () => Promise<number>,
  o: { signal?: AbortSignal; cancelled?: () => Error } = {},
): ByteSource {
  let cached: Promise<number> | null = null;
  const cancelled = o.cancelled ?? (() => new Error(`read of ${file.path} cancelled`));
  const abortable = <T>(work: Promise<T>): Promise<T> => {
    const signal = o.signal;
    if (!signal) return work;
    if (signal.aborted) {
      work.catch(() => {});
      return Promise.reject(cancelled());
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(cancelled());
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  };
  return {
    size: () => {
      cached ??= (async () => {
        const st = await file.statSize();
        return st === 0 && sizeOf ? sizeOf() : st;
      })();
      return abortable(cached);
    },
    // Fewer bytes than asked only past the end of the file; the reader decides what that means.
    read: (offset, length) => abortable(file.read(offset, length, { signal: o.signal })),
  };
}

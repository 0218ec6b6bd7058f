// Range reads and writes over SFTP with big requests and many in flight. OpenSSH's sftp-server answers
// reads of at most 261120 bytes (its limits@openssh.com max-read-length); ssh2's fastGet defaults to 32 KiB
// and createReadStream to one request at a time, both far too slow for disks.
import type { SFTPWrapper } from "ssh2";
import type { HostConnection } from "./connection.ts";
import { ConnectionLostError, SftpError } from "./errors.ts";

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
  /**
   * fsync(2) of the server's own descriptor (fsync@openssh.com, OpenSSH 6.5+): true once done, false when the
   * server does not offer it (then nothing was done).
   */
  fsync(): Promise<boolean>;
  close(): Promise<void>;
};

/** ssh2 fails every request still waiting for an answer with this when the SFTP channel or connection ends. */
const NO_RESPONSE = "No response from server";

type Requests = Pick<SFTPWrapper, "read" | "write">;

/**
 * Open a remote file or device: "r" to read, "r+" to read and write an existing one, "w" to create/truncate.
 * Once the SFTP session ends (connection lost), every request of this file fails at once with
 * ConnectionLostError: ssh2 itself would leave a request made on an ended session unanswered forever.
 */
export async function openRemoteFile(
  conn: HostConnection,
  path: string,
  mode: "r" | "r+" | "w" = "r",
): Promise<RemoteFile> {
  const sftp = await conn.sftp();
  // Requests in flight, each with its reject: failed together when the session ends.
  const pending = new Set<(e: Error) => void>();
  let ended = (sftp as { readable?: boolean }).readable === false;
  const lost = (op: string) => new ConnectionLostError(conn.name, `sftp ${op} ${path}`);
  const onEnd = () => {
    ended = true;
    for (const reject of pending) reject(lost("request"));
    pending.clear();
  };
  sftp.once("end", onEnd);
  sftp.once("close", onEnd);
  const fail = (op: string) => (err: Error) =>
    ended || err.message === NO_RESPONSE ? lost(op) : new SftpError(conn.name, path, op, err.message);
  /** One request: typed failure, and never left hanging by an ended session. */
  const request = <T>(op: string, send: (cb: (err: Error | null | undefined, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => {
      if (ended) return reject(lost(op));
      const rejectNow = (e: Error) => reject(e);
      pending.add(rejectNow);
      send((err, value) => {
        pending.delete(rejectNow);
        err ? reject(fail(op)(err)) : resolve(value);
      });
    });
  const guarded: Requests = {
    read: (h, buf, off, len, pos, cb) =>
      request<number>("read", (done) =>
        sftp.read(h, buf, off, len, pos, (err, n) => {
          // ssh2 reports EOF as an error with code 1 (SSH_FX_EOF)
          if (err && (err as { code?: number }).code === 1) return done(undefined, 0);
          done(err, n);
        }),
      ).then(
        (n) => cb(undefined, n, buf, pos),
        (e: Error) => cb(e, 0, buf, pos),
      ),
    write: (h, buf, off, len, pos, cb) =>
      request<void>("write", (done) => sftp.write(h, buf, off, len, pos, (err) => done(err, undefined))).then(
        () => cb(undefined),
        (e: Error) => cb(e),
      ),
  };
  const handle = await request<Buffer>("open", (done) => sftp.open(path, mode, done));
  let closed = false;
  const typed = (op: string) => (e: Error) => {
    throw e instanceof SftpError || e instanceof ConnectionLostError ? e : fail(op)(e);
  };
  return {
    path,
    statSize: () => request<{ size: number }>("fstat", (done) => sftp.fstat(handle, done)).then((st) => st.size),
    read: (offset, length, opts) => readRange(guarded, handle, offset, length, opts).catch(typed("read")),
    write: (offset, data, opts) => writeRange(guarded, handle, offset, data, opts).catch(typed("write")),
    fsync: () =>
      request<boolean>("fsync", (done) => {
        try {
          sftp.ext_openssh_fsync(handle, (err) => done(err, true));
        } catch {
          // Thrown at once when the server did not advertise fsync@openssh.com: nothing was sent.
          done(undefined, false);
        }
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      sftp.removeListener("end", onEnd);
      sftp.removeListener("close", onEnd);
      if (ended) return; // the server process and its descriptors are gone with the session
      await request<void>("close", (done) => sftp.close(handle, (err) => done(err, undefined)));
    },
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

function readOnce(sftp: Requests, handle: Buffer, buf: Buffer, at: number, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) =>
    sftp.read(handle, buf, at, len, pos, (err, n) => {
      // ssh2 reports EOF as an error with code 1 (SSH_FX_EOF)
      if (err && (err as { code?: number }).code === 1) return resolve(0);
      err ? reject(err) : resolve(n);
    }),
  );
}

export async function readRange(
  sftp: Requests,
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
  sftp: Requests,
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

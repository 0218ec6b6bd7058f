import { open } from "node:fs/promises";
import { ByteSourceRangeError } from "./errors.ts";

/**
 * Random access to a device or file. `read` returns exactly `length` bytes, except at the end of the
 * source where it returns fewer (possibly none): a short read always means EOF, never "try again".
 * Offsets and lengths are exact integers up to 2^53.
 */
export interface ByteSource {
  size(): Promise<number>;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Owned sources hold a handle that must be released. */
export interface ClosableByteSource extends ByteSource {
  close(): Promise<void>;
}

export function assertReadRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new ByteSourceRangeError(`bad read range offset=${offset} length=${length}`);
  }
  if (offset + length > Number.MAX_SAFE_INTEGER) {
    throw new ByteSourceRangeError(`read range beyond 2^53: offset=${offset} length=${length}`);
  }
}

/**
 * A file or block device through one fs.promises FileHandle. Size comes from fstat for files; for block
 * devices (st_size 0) it is found with about 2*log2(size) one-byte probe reads.
 */
export async function fileByteSource(path: string): Promise<ClosableByteSource> {
  const handle = await open(path, "r");
  let cachedSize: number | undefined;
  return {
    async size() {
      if (cachedSize === undefined) {
        const st = await handle.stat();
        cachedSize = st.isBlockDevice() ? await deviceSize(handle) : st.size;
      }
      return cachedSize;
    },
    async read(offset, length) {
      assertReadRange(offset, length);
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(out, got, length - got, offset + got);
        if (bytesRead === 0) break; // EOF
        got += bytesRead;
      }
      return got === length ? out : out.subarray(0, got);
    },
    async close() {
      await handle.close();
    },
  };
}

type Handle = Awaited<ReturnType<typeof open>>;

/** Size of a block device (st_size is 0 for them): the first offset where a one-byte read gets nothing. */
async function deviceSize(handle: Handle): Promise<number> {
  const probe = new Uint8Array(1);
  const readsAt = async (offset: number) => (await handle.read(probe, 0, 1, offset)).bytesRead === 1;
  if (!(await readsAt(0))) return 0;
  let lo = 0; // readable
  let hi = 1; // becomes the first unreadable offset found
  while (await readsAt(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > Number.MAX_SAFE_INTEGER) throw new ByteSourceRangeError("device larger than 2^53 bytes");
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await readsAt(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** In-memory source: tests, stdin captures, small fixtures. */
export function bufferByteSource(bytes: Uint8Array): ByteSource {
  return {
    async size() {
      return bytes.length;
    },
    async read(offset, length) {
      assertReadRange(offset, length);
      if (offset >= bytes.length) return new Uint8Array(0);
      return bytes.subarray(offset, Math.min(bytes.length, offset + length));
    },
  };
}
